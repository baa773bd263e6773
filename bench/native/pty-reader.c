/*
 * The PTY floor of `npm run bench` (bench/pty-floor.ts builds it with cc at bench time): a plain C
 * reader of a kernel PTY, which loses nothing and starts its clock where the PTY-session figure does.
 *
 *   pty-reader SCRIPT FILE   runs `sh -c SCRIPT FILE` on a new 24x80 PTY (the figure passes
 *                     `stty raw -echo; printf R; read go; exec cat "$0"`), waits for the "R" (raw mode
 *                     set, the child waits for a line), starts the clock, writes "go\n", reads the
 *                     master until EIO (every slave fd closed and the queue drained) or EOF, reaps
 *                     the child and prints {"bytes":N,"ms":T,"status":S}.
 *
 * Blocking reads of the master: nothing here can take an EOF for the end while bytes are still
 * queued (what node-pty does, see docs/notes/node-pty-tail-loss.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef __APPLE__
#include <util.h>
#else
#include <pty.h>
#endif

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SCRIPT FILE\n", argv[0]);
    return 2;
  }
  struct winsize ws = { .ws_row = 24, .ws_col = 80 };
  int master;
  pid_t pid = forkpty(&master, NULL, NULL, &ws);
  if (pid < 0) {
    perror("pty-reader: forkpty");
    return 1;
  }
  if (pid == 0) {
    execlp("sh", "sh", "-c", argv[1], argv[2], (char *)NULL);
    _exit(127);
  }
  static char buf[1 << 16];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "pty-reader: the child ended before it was ready\n");
      return 1;
    }
    if (memchr(buf, 'R', (size_t)n)) break;
  }
  double started = now_ms();
  if (write(master, "go\n", 3) != 3) {
    perror("pty-reader: write");
    return 1;
  }
  unsigned long long got = 0;
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      got += (unsigned long long)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno == EIO) break;
    perror("pty-reader: read");
    return 1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  double ms = now_ms() - started;
  printf("{\"bytes\":%llu,\"ms\":%.3f,\"status\":%d}\n", got, ms, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}
