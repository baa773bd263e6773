// The tmux peers of the PTY figures: a private tmux server (its own -S socket, no config file) and a
// control-mode client of it (`tmux -C`), the tmux counterpart of a connected runpm client. The server
// lives until kill(); the control client until close(). Nothing here measures: the figures do.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Whether a tmux binary runs here. */
export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Quotes one argument for a tmux command line (and for the shell tmux runs a pane command with). */
export function tmuxQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A private tmux server on its own socket, started with a long-lived session so it stays up. */
export class TmuxServer {
  constructor(readonly socket: string) {}

  /** Starts the server with a `keep` session running `sleep 600`; throws with tmux's stderr. */
  static start(socket: string): TmuxServer {
    const server = new TmuxServer(socket);
    server.run('-f', '/dev/null', 'new-session', '-d', '-s', 'keep', '-x', '80', '-y', '24', 'sleep 600');
    return server;
  }

  /** The argv prefix that reaches this server. */
  get args(): string[] {
    return ['-S', this.socket];
  }

  /** Runs one tmux command against this server; its stdout, or a throw naming the command. */
  run(...args: string[]): string {
    const r = spawnSync('tmux', [...this.args, ...args], { encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Stops the server and everything in it. */
  kill(): void {
    spawnSync('tmux', [...this.args, 'kill-server'], { stdio: 'ignore' });
  }
}

interface PendingCommand {
  resolve(lines: string[]): void;
  reject(err: Error): void;
}

/** Counts the bytes one `%output %PANE DATA` line carries: tmux writes bytes < 0x20 and `\` as `\ooo`. */
export function controlOutputBytes(line: Buffer, dataStart: number): number {
  let escapes = 0;
  for (let i = line.indexOf(0x5c, dataStart); i !== -1; i = line.indexOf(0x5c, i + 4)) escapes++;
  return line.length - dataStart - 3 * escapes;
}

/**
 * A control-mode client (`tmux -C attach -t SESSION`): sends command lines and resolves each with the
 * lines of its %begin/%end block (rejects on %error); counts %output bytes per pane and reports
 * notifications (`%window-close @N`, ...) to waiters. Pane output is counted, not decoded: a
 * decoding client would only be slower, and this is the peer.
 */
export class TmuxControlClient {
  private readonly proc: ChildProcess;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending: PendingCommand[] = [];
  /** The %begin/%end block being read: ours (flags 1, answers a queued command) or tmux's own (flags 0). */
  private block: { ours: boolean; lines: string[] } | null = null;
  private readonly outputBytes = new Map<string, number>();
  private outputWatchers: Array<{ pane: string; atLeast: number; resolve: () => void }> = [];
  private readonly notifications: string[] = [];
  private notificationWatchers: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  private ended: Error | null = null;

  private constructor(server: TmuxServer, session: string) {
    this.proc = spawn('tmux', [...server.args, '-C', 'attach-session', '-t', session], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.proc.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.proc.once('close', (code) => this.end(new Error(`tmux -C exited (${code}): ${stderr.trim()}`)));
    this.proc.once('error', (err) => this.end(err));
  }

  /** Attaches a control client to `session` (which must exist) and waits for its first answer. */
  static async attach(server: TmuxServer, session: string): Promise<TmuxControlClient> {
    const client = new TmuxControlClient(server, session);
    // Needs no client context: the client's first commands may run before its attach is done.
    await client.command(`has-session -t ${tmuxQuote(session)}`);
    return client;
  }

  /** Sends one command line; resolves with the lines tmux answered between %begin and %end. */
  command(line: string): Promise<string[]> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      // The client's first block answers the attach itself; queue behind it in order.
      this.pending.push({ resolve, reject });
      this.proc.stdin!.write(`${line}\n`);
    });
  }

  /** Bytes counted so far from %output lines of `pane` (e.g. "%3"). */
  paneBytes(pane: string): number {
    return this.outputBytes.get(pane) ?? 0;
  }

  /** Resolves once `pane` has printed at least `atLeast` bytes in all (counted before or after this call). */
  waitForPaneBytes(pane: string, atLeast: number): Promise<void> {
    if (this.paneBytes(pane) >= atLeast) return Promise.resolve();
    return new Promise((resolve) => this.outputWatchers.push({ pane, atLeast, resolve }));
  }

  /** Resolves with the first notification (seen before or after this call) that `test` accepts. */
  waitForNotification(test: (line: string) => boolean): Promise<string> {
    const seen = this.notifications.findIndex(test);
    if (seen !== -1) return Promise.resolve(this.notifications.splice(seen, 1)[0]!);
    return new Promise((resolve) => this.notificationWatchers.push({ test, resolve }));
  }

  /**
   * Resolves once window `id` (e.g. "@3") closed. tmux 3.3 reports it as %unlinked-window-close even
   * for a window of this client's own session (it checks after unlinking), so either form counts.
   */
  waitForWindowClose(id: string): Promise<string> {
    return this.waitForNotification((line) => line === `%window-close ${id}` || line === `%unlinked-window-close ${id}`);
  }

  /** Detaches the client (tmux -C exits on stdin EOF). */
  close(): void {
    this.proc.stdin!.end();
  }

  private end(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let start = 0;
    for (let nl = this.buffered.indexOf(0x0a, start); nl !== -1; nl = this.buffered.indexOf(0x0a, start)) {
      this.onLine(this.buffered.subarray(start, nl));
      start = nl + 1;
    }
    this.buffered = start === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(start);
  }

  private onLine(line: Buffer): void {
    if (line.length > 8 && line[0] === 0x25 && line.toString('latin1', 0, 8) === '%output ') {
      const space = line.indexOf(0x20, 8);
      const pane = line.toString('latin1', 8, space);
      const total = (this.outputBytes.get(pane) ?? 0) + controlOutputBytes(line, space + 1);
      this.outputBytes.set(pane, total);
      if (this.outputWatchers.length > 0) {
        const done = this.outputWatchers.filter((w) => w.pane === pane && total >= w.atLeast);
        this.outputWatchers = this.outputWatchers.filter((w) => !done.includes(w));
        for (const w of done) w.resolve();
      }
      return;
    }
    const text = line.toString('utf8');
    if (this.block) {
      if (text.startsWith('%end ') || text.startsWith('%error ')) {
        const { ours, lines } = this.block;
        this.block = null;
        const p = ours ? this.pending.shift() : undefined;
        if (text.startsWith('%end ')) p?.resolve(lines);
        else p?.reject(new Error(`tmux: ${lines.join(' ')}`));
      } else {
        this.block.lines.push(text);
      }
      return;
    }
    // A block with flags 0 answers a command tmux ran itself, not one of ours; only ours are queued.
    if (text.startsWith('%begin ')) {
      this.block = { ours: text.endsWith(' 1'), lines: [] };
      return;
    }
    const watcher = this.notificationWatchers.find((w) => w.test(text));
    if (watcher) {
      this.notificationWatchers = this.notificationWatchers.filter((w) => w !== watcher);
      watcher.resolve(text);
      return;
    }
    // Kept for a waiter that comes later (a window may close before its creator's answer is read).
    this.notifications.push(text);
    if (this.notifications.length > 1000) this.notifications.shift();
  }
}
