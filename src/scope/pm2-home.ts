// pm2's home ($PM2_HOME, else ~/.pm2): the default scope's daemon keeps pm2.pid there and `save`
// writes dump.pm2 there, as pm2 does, so scripts written for pm2 (`kill $(cat ~/.pm2/pm2.pid)`,
// `ls ~/.pm2/dump.pm2`) work with runpm. Never while a real pm2 daemon owns that home: its files
// are left alone.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** $PM2_HOME, else ~/.pm2 (pm2's paths.js). */
export function pm2HomeOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.PM2_HOME || path.join(env.HOME || os.homedir(), '.pm2');
}

/** The pid in home/pm2.pid when it is a live pm2 daemon ("PM2 v7.0.4: God Daemon (...)"), else null. */
export function livePm2DaemonPid(home: string): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /God Daemon/.test(cmdline) ? pid : null;
  } catch {
    return null;
  }
}

/** Makes home (0700) unless it exists; false when that fails. */
function ensureHome(home: string): boolean {
  try {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes home/pm2.pid with this process's pid unless a pm2 daemon owns home; returns what undoes
 * it (removes the file if it still names us), or null when nothing was written (with why).
 */
export function claimPm2PidFile(home: string): { release: () => void } | { skipped: string } {
  const owner = livePm2DaemonPid(home);
  if (owner !== null) return { skipped: `a pm2 daemon (pid ${owner}) owns ${home}` };
  if (!ensureHome(home)) return { skipped: `cannot create ${home}` };
  const file = path.join(home, 'pm2.pid');
  try {
    fs.writeFileSync(file, String(process.pid), { mode: 0o600 });
  } catch (err) {
    return { skipped: `cannot write ${file}: ${(err as Error).message}` };
  }
  return {
    release: () => {
      try {
        if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
      } catch { /* gone already */ }
    },
  };
}

/**
 * Writes home/dump.pm2 (the apps in pm2's dump form: a JSON list of pm2_env objects), keeping the
 * previous one as dump.pm2.bak, as `pm2 save` does. Returns the path, or why it was not written.
 */
export function writePm2Dump(home: string, apps: unknown[]): { path: string } | { skipped: string } {
  const owner = livePm2DaemonPid(home);
  if (owner !== null) return { skipped: `a pm2 daemon (pid ${owner}) owns ${home}` };
  if (!ensureHome(home)) return { skipped: `cannot create ${home}` };
  const file = path.join(home, 'dump.pm2');
  try {
    if (fs.existsSync(file)) fs.copyFileSync(file, `${file}.bak`);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(apps), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (err) {
    return { skipped: `cannot write ${file}: ${(err as Error).message}` };
  }
  return { path: file };
}

/** What resurrect finds of pm2's dump: the apps (from dump.pm2, else dump.pm2.bak) and what it did. */
export interface Pm2DumpRead {
  apps: Array<Record<string, unknown>> | null;
  from: string;
  /** A dump.pm2 that was not a JSON list was removed (pm2 resurrect does so, then reads the .bak). */
  removedBroken: string;
}

function readDumpFile(file: string): Array<Record<string, unknown>> | null | 'broken' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const apps = JSON.parse(text) as unknown;
    return Array.isArray(apps) && apps.every((a) => a !== null && typeof a === 'object') ? apps as Array<Record<string, unknown>> : 'broken';
  } catch {
    return 'broken';
  }
}

/** pm2's dump in home, as pm2 resurrect reads it: dump.pm2, or (missing or broken: removed) dump.pm2.bak. */
export function readPm2Dump(home: string): Pm2DumpRead {
  const file = path.join(home, 'dump.pm2');
  const main = readDumpFile(file);
  let removedBroken = '';
  if (main === 'broken') {
    try {
      fs.unlinkSync(file);
      removedBroken = file;
    } catch { /* gone meanwhile */ }
  } else if (main) return { apps: main, from: file, removedBroken };
  const bak = readDumpFile(`${file}.bak`);
  return { apps: Array.isArray(bak) ? bak : null, from: `${file}.bak`, removedBroken };
}
