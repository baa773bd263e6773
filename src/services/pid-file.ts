// pm2's pid_file: each run's pid written to a file while it runs, removed when it exits. As pm2
// does (God.js), the service id goes before ".pid" ("app.pid" -> "app-3.pid"), so instances that
// share a pid_file each get their own.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { openNoFollowSync } from '../files/no-follow';
import { checkTrustedDirectory } from '../files/trusted-path';
import type { Logger } from '../daemon/log';
import type { ServiceRow } from './service-store';

/** The pid file of a service ("" = none). */
export function pidFilePathOf(row: Pick<ServiceRow, 'id' | 'config'>): string {
  const file = row.config.pidFile;
  if (file === '') return '';
  return file.replace(/-[0-9]+\.pid$|\.pid$/, `-${row.id}.pid`);
}

/** Writes the pid (atomically, by rename); returns why it could not, or null. */
export function writePidFile(row: Pick<ServiceRow, 'id' | 'config'>, pid: number): string | null {
  const file = pidFilePathOf(row);
  if (file === '') return null;
  // Never through a symlink or into a directory another user controls (issue 22.3): the temp file
  // is new (O_EXCL, O_NOFOLLOW) under a name nobody can guess, in a directory only we (or root)
  // can change, so a planted `.<name>.tmp -> /etc/...` cannot make the daemon write elsewhere.
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    checkTrustedDirectory(path.dirname(file));
    fd = openNoFollowSync(tmp, 'create', { mode: 0o644 });
    fs.writeSync(fd, String(pid));
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
    return null;
  } catch (err) {
    if (fd !== null) fs.closeSync(fd);
    try { fs.unlinkSync(tmp); } catch { /* never written */ }
    return `cannot write pid_file ${JSON.stringify(file)}: ${(err as Error).message}`;
  }
}

/** Removes the pid file after the run ended (a file already gone is fine). */
export function removePidFile(row: Pick<ServiceRow, 'id' | 'config' | 'name'>, log: Logger): void {
  const file = pidFilePathOf(row);
  if (file === '') return;
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`service ${row.name}: cannot remove pid_file ${file}: ${(err as Error).message}`);
  }
}
