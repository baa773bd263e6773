// pm2's pid_file: each run's pid written to a file while it runs, removed when it exits. As pm2
// does (God.js), the service id goes before ".pid" ("app.pid" -> "app-3.pid"), so instances that
// share a pid_file each get their own.
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, String(pid), { mode: 0o644 });
    fs.renameSync(tmp, file);
    return null;
  } catch (err) {
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
