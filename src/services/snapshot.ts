// The saved service snapshot (services.dump.json in the scope's state dir): a versioned JSON file
// written atomically (temp file, fsync, rename, directory fsync) with the previous one kept as .bak;
// the temp file of a save a crash interrupted is removed at the next start.
// Read only by ServiceResurrect; a missing, corrupt or unknown-version file changes nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openNoFollowSync } from '../files/no-follow';
import { crashPoint } from '../daemon/crash-points';
import { InvalidArgumentError, NotFoundError } from '../wire/errors';
import { checkServiceConfig, type ServiceConfigData, type ServiceDefaults } from './service-config';

export const SNAPSHOT_FORMAT = 'runpm-services';
export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_FILE = 'services.dump.json';
const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

export interface SnapshotEntry {
  id: number;
  name: string;
  config: ServiceConfigData;
  /** Saved while meant to run (starting, online or waiting): resurrect starts it. */
  online: boolean;
}

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  savedAt: number;
  services: SnapshotEntry[];
}

/** Writes the snapshot atomically; the file it replaces becomes <file>.bak. */
export function writeSnapshot(file: string, services: SnapshotEntry[]): void {
  const snapshot: Snapshot = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, savedAt: Date.now(), services };
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openNoFollowSync(tmp, 'truncate', { private: true });
  try {
    fs.writeSync(fd, `${JSON.stringify(snapshot, null, 2)}\n`);
    fs.fsyncSync(fd);
  } catch (err) {
    // A half-written temp file (disk full) would only hold on to the space the retry needs.
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  crashPoint('save-temp-written');
  keepPrevious(file);
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * Runs at daemon start (the scope's only writer holds the instance lock, so every temp file is
 * left by a save a crash interrupted): removes <file>.tmp-<pid> files; returns their names.
 */
export function removeInterruptedSaves(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed = entries.filter((e) => e.startsWith(prefix) && /^\d+$/.test(e.slice(prefix.length)));
  for (const e of removed) fs.rmSync(path.join(dir, e), { force: true });
  return removed;
}

/**
 * Makes <file>.bak the current snapshot before it is replaced, while `file` exists at every
 * instant: a hard link (no data written, so it works on a full disk), else a copy.
 */
function keepPrevious(file: string): void {
  if (!fs.existsSync(file)) return;
  const bak = `${file}.bak`;
  fs.rmSync(bak, { force: true });
  try {
    fs.linkSync(file, bak);
  } catch {
    fs.copyFileSync(file, bak);
  }
}

/** Reads and checks a snapshot completely; throws NOT_FOUND or INVALID_ARGUMENT naming the problem. */
export function readSnapshot(file: string, defaults: ServiceDefaults): Snapshot {
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_SNAPSHOT_BYTES) throw new InvalidArgumentError(`snapshot ${file} is larger than ${MAX_SNAPSHOT_BYTES} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no saved snapshot at ${file} (run 'runpm save' first)`);
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`snapshot ${file} is corrupt: ${(err as Error).message}`);
  }
  const s = data as Partial<Snapshot> | null;
  if (!s || typeof s !== 'object' || s.format !== SNAPSHOT_FORMAT) throw new InvalidArgumentError(`snapshot ${file} is not a runpm services snapshot`);
  if (s.version !== SNAPSHOT_VERSION) {
    throw new InvalidArgumentError(`snapshot ${file} has unknown version ${JSON.stringify(s.version)} (this runpmd reads version ${SNAPSHOT_VERSION})`);
  }
  if (!Array.isArray(s.services)) throw new InvalidArgumentError(`snapshot ${file} is corrupt: services is not a list`);
  const names = new Set<string>();
  const services = s.services.map((e: Partial<SnapshotEntry>, i: number): SnapshotEntry => {
    if (!e || typeof e !== 'object') throw new InvalidArgumentError(`snapshot ${file} is corrupt: services[${i}] is not an object`);
    let config: ServiceConfigData;
    try {
      config = checkServiceConfig(e.config, defaults);
    } catch (err) {
      throw new InvalidArgumentError(`snapshot ${file}: services[${i}]: ${(err as Error).message}`);
    }
    if (names.has(config.name)) throw new InvalidArgumentError(`snapshot ${file}: service '${config.name}' appears twice`);
    names.add(config.name);
    const id = Number.isInteger(e.id) && (e.id as number) >= 0 ? (e.id as number) : -1;
    return { id, name: config.name, config, online: e.online === true };
  });
  return { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, savedAt: Number(s.savedAt) || 0, services };
}
