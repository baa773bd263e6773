// A real small filesystem for disk-full tests: an 8 MiB tmpfs mounted on a fresh temp dir (needs
// root, as CI has), filled with zeros until ENOSPC. Callers always unmount in cleanup.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

/** Mounts an 8 MiB tmpfs on a fresh directory; null when mounting is not allowed here. */
export function mountSmallTmpfs(): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-fs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

/** Writes zeros into `file` until the filesystem refuses (ENOSPC); returns bytes written. */
export function fillDisk(file: string): number {
  const fd = fs.openSync(file, 'w');
  let total = 0;
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          total += fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

/** Unmounts (lazily, so a straggling fd cannot block it) and removes the mount point. */
export function unmountTmpfs(dir: string): void {
  spawnSync('umount', ['-l', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}
