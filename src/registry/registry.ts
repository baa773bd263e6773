// The process registry: tracked rows (registry-store) checked against the OS process table.
// Identity is pid + start ticks, so a recycled pid never matches an old row. One Registry per
// daemon, living as long as its database; SpawnDaemon children live in spawn-daemon.ts.
import { InvalidArgumentError, NotFoundError } from '../wire/errors';
import { pb, type running_process } from '../wire/proto';
import {
  readProcStat, pidRunning, checkLiveness, isExitedState, listAncestors, startTicksToEpochSeconds, ProcUnreadableError, type ProcStat,
} from '../proc/process-table';
import { killProcessTree } from '../proc/kill-escalation';
import { UsageReader } from '../proc/usage';
import { RegistryStore, type TrackedRow } from './registry-store';
import type { Database } from './db';

const ProcessState = pb.ProcessState;
type ProcessState = running_process.daemon.v1.ProcessState;

/** A client's created_at may differ from ours by rounding (psutil vs. ticks): this much is the same process. */
const CREATED_AT_TOLERANCE_S = 2;
export const DEFAULT_KILL_TREE_TIMEOUT_S = 3;
export const MAX_KILL_TREE_TIMEOUT_S = 30;

/** What a Register request gives: the stored row's caller-supplied fields. */
export type RegisterInput = Pick<TrackedRow, 'pid' | 'createdAt' | 'kind' | 'command' | 'cwd' | 'originator' | 'containment'>;

/** TrackedProcess as the wire carries it. */
export interface TrackedProcessInfo extends RegisterInput, Pick<TrackedRow, 'registeredAt' | 'lastValidatedAt'> {
  uptimeSeconds: number;
  parentAlive: boolean;
  state: ProcessState;
  cpuPercent: number;
  memoryBytes: number;
}

export type ZombieKind = 'dead' | 'recycled' | 'orphaned';

export interface ZombieFinding {
  row: TrackedRow;
  kind: ZombieKind;
  reason: string;
}

export interface ZombieOutcome {
  pid: number;
  command: string;
  kind: ZombieKind;
  reason: string;
  killed: boolean;
}

const nowSeconds = () => Date.now() / 1000;

/** The pid in an originator of the form TOOL:PID, or null. */
export function originatorPid(originator: string): number | null {
  const m = /:(\d+)$/.exec(originator);
  if (!m) return null;
  const pid = Number(m[1]);
  return pid > 0 && Number.isSafeInteger(pid) ? pid : null;
}

/** Pids that must never be signalled: this daemon and every ancestor of it. */
export function protectedPids(): Set<number> {
  return new Set([process.pid, ...listAncestors(process.pid)]);
}

export class Registry {
  readonly store: RegistryStore;

  constructor(db: Database) {
    this.store = new RegistryStore(db);
  }

  /** REGISTER: validates and records pid with the start time the OS reports for it now. */
  register(input: RegisterInput): TrackedRow {
    if (!Number.isInteger(input.pid) || input.pid <= 0) throw new InvalidArgumentError(`pid must be a positive integer, got ${input.pid}`);
    if (input.command.trim() === '') throw new InvalidArgumentError(`command must not be empty (pid ${input.pid})`);
    if (!Number.isFinite(input.createdAt) || input.createdAt < 0) {
      throw new InvalidArgumentError(`created_at must be a non-negative number of epoch seconds, got ${input.createdAt}`);
    }
    const stat = readProcStat(input.pid);
    if (!stat) throw new NotFoundError(`no process with pid ${input.pid}`);
    if (isExitedState(stat.state)) throw new NotFoundError(`pid ${input.pid} has already exited (zombie)`);
    const osCreatedAt = startTicksToEpochSeconds(stat.startTicks);
    if (input.createdAt !== 0 && Math.abs(input.createdAt - osCreatedAt) > CREATED_AT_TOLERANCE_S) {
      // The caller describes an earlier process whose pid has since been reused.
      throw new NotFoundError(`pid ${input.pid} started at ${osCreatedAt.toFixed(2)}, not at created_at ${input.createdAt}: it is another process now`);
    }
    const now = nowSeconds();
    const row: TrackedRow = {
      pid: input.pid, startTicks: stat.startTicks, createdAt: input.createdAt || osCreatedAt,
      kind: input.kind, command: input.command, cwd: input.cwd, originator: input.originator,
      containment: input.containment, registeredAt: now, lastValidatedAt: now,
    };
    this.store.upsert(row);
    return row;
  }

  /** UNREGISTER: forgets pid (any start time); NOT_FOUND when nothing was tracked under it. */
  unregister(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new InvalidArgumentError(`pid must be a positive integer, got ${pid}`);
    if (this.store.deletePid(pid) === 0) throw new NotFoundError(`pid ${pid} is not tracked`);
  }

  /** LIST_ACTIVE / LIST_BY_ORIGINATOR: every row with its state checked against the OS now. */
  async list(tool: string | null, includeUsage: boolean): Promise<TrackedProcessInfo[]> {
    let rows = this.store.all();
    if (tool !== null) rows = rows.filter((r) => r.originator === tool || r.originator.startsWith(`${tool}:`));
    const now = nowSeconds();
    const infos = rows.map((row) => describeRow(row, now));
    this.store.touch(rows, now);
    if (includeUsage) fillUsage(infos);
    return infos;
  }

  /**
   * Rows whose process is dead, recycled or orphaned, with the reason for each. A row whose process
   * (or originator) cannot be checked now (EMFILE, EACCES) is no finding: it is counted in `unknown`.
   */
  findZombies(): { findings: ZombieFinding[]; unknown: number } {
    const findings: ZombieFinding[] = [];
    let unknown = 0;
    for (const row of this.store.all()) {
      let finding: ZombieFinding | null;
      try {
        finding = zombieFindingOf(row);
      } catch (err) {
        if (!(err instanceof ProcUnreadableError)) throw err;
        unknown++;
        continue;
      }
      if (finding) findings.push(finding);
    }
    return { findings, unknown };
  }

  /**
   * KILL_ZOMBIES and the reaper: reports every finding; unless dryRun, unregisters it (and kills
   * orphans' trees). `unknown` counts rows that could not be checked now: they are left alone.
   */
  async killZombies(dryRun: boolean): Promise<{ outcomes: ZombieOutcome[]; unknown: number }> {
    const outcomes: ZombieOutcome[] = [];
    const { findings, unknown } = this.findZombies();
    for (const f of findings) {
      let killed = false;
      let reason = f.reason;
      if (!dryRun) {
        if (f.kind === 'orphaned') {
          const result = await killProcessTree({ pid: f.row.pid, startTicks: f.row.startTicks },
            { timeoutMs: DEFAULT_KILL_TREE_TIMEOUT_S * 1000, protect: protectedPids() });
          killed = result.killed > 0;
          reason += `; killed ${result.killed} process(es)`;
          if (result.survivors.length > 0) reason += `, ${result.survivors.length} survived SIGKILL (pids ${result.survivors.map((s) => s.pid).join(', ')})`;
        }
        this.store.deleteIdentity(f.row.pid, f.row.startTicks);
      }
      outcomes.push({ pid: f.row.pid, command: f.row.command, kind: f.kind, reason, killed });
    }
    return { outcomes, unknown };
  }

  /** At daemon start: drops rows whose process is gone or whose pid was reused (never one that cannot be checked); returns them. */
  dropDeadRows(): TrackedRow[] {
    const dropped: TrackedRow[] = [];
    for (const row of this.store.all()) {
      const liveness = checkLiveness(row);
      if (liveness === 'alive' || liveness === 'unknown') continue;
      this.store.deleteIdentity(row.pid, row.startTicks);
      dropped.push(row);
    }
    this.store.touch(this.store.all(), nowSeconds());
    return dropped;
  }

  /** KILL_TREE: SIGKILLs pid and its descendants (start-time checked); returns how many died. */
  async killTree(pid: number, timeoutSeconds: number): Promise<number> {
    if (!Number.isInteger(pid) || pid <= 0) throw new InvalidArgumentError(`pid must be a positive integer, got ${pid}`);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > MAX_KILL_TREE_TIMEOUT_S) {
      throw new InvalidArgumentError(`timeout_seconds must be between 0 (default ${DEFAULT_KILL_TREE_TIMEOUT_S}) and ${MAX_KILL_TREE_TIMEOUT_S}, got ${timeoutSeconds}`);
    }
    const protect = protectedPids();
    if (protect.has(pid)) {
      throw new InvalidArgumentError(`refusing to kill pid ${pid}: it is ${pid === process.pid ? 'the daemon itself' : 'an ancestor of the daemon'}`);
    }
    const stat = readProcStat(pid);
    // Idempotent, like the reference: a pid that is gone (or only a zombie, which no signal can
    // kill) has nothing left to kill, so the answer is OK with 0 rather than NOT_FOUND.
    if (!stat || isExitedState(stat.state)) return 0;
    const result = await killProcessTree({ pid, startTicks: stat.startTicks },
      { timeoutMs: (timeoutSeconds || DEFAULT_KILL_TREE_TIMEOUT_S) * 1000, protect });
    return result.killed;
  }
}

function describeRow(row: TrackedRow, now: number): TrackedProcessInfo {
  let state = ProcessState.PROCESS_STATE_UNKNOWN;
  let stat: ProcStat | null = null;
  try {
    stat = readProcStat(row.pid);
    state = ProcessState.PROCESS_STATE_DEAD;
    if (stat && stat.startTicks === row.startTicks) {
      state = isExitedState(stat.state) ? ProcessState.PROCESS_STATE_ZOMBIE : ProcessState.PROCESS_STATE_ALIVE;
    }
  } catch (err) {
    // Could not look (no fd left...): UNKNOWN, and the row stays as it is.
    if (!(err instanceof ProcUnreadableError)) throw err;
  }
  const alive = state === ProcessState.PROCESS_STATE_ALIVE;
  const origin = originatorPid(row.originator);
  let parentAlive: boolean | 'unknown' = false;
  if (origin !== null) parentAlive = pidRunning(origin);
  else if (alive && stat) parentAlive = stat.ppid > 0 && pidRunning(stat.ppid);
  return {
    pid: row.pid, createdAt: row.createdAt, kind: row.kind, command: row.command, cwd: row.cwd,
    originator: row.originator, containment: row.containment, registeredAt: row.registeredAt,
    uptimeSeconds: alive ? Math.max(0, now - startTicksToEpochSeconds(row.startTicks)) : 0,
    parentAlive: parentAlive === true, state, lastValidatedAt: now, cpuPercent: 0, memoryBytes: 0,
  };
}

/** The zombie finding for a row, or null when its process is fine; throws ProcUnreadableError. */
function zombieFindingOf(row: TrackedRow): ZombieFinding | null {
  const stat = readProcStat(row.pid);
  if (!stat) return { row, kind: 'dead', reason: `dead: pid ${row.pid} no longer exists` };
  if (stat.startTicks !== row.startTicks) {
    return {
      row, kind: 'recycled',
      reason: `recycled: pid ${row.pid} now belongs to another process (${stat.comm}, started at tick ${stat.startTicks}, tracked one at tick ${row.startTicks}); not killed`,
    };
  }
  if (isExitedState(stat.state)) return { row, kind: 'dead', reason: `dead: pid ${row.pid} has exited (zombie awaiting its parent ${stat.ppid})` };
  const origin = originatorPid(row.originator);
  if (origin === null) return null;
  const running = pidRunning(origin);
  if (running === 'unknown') throw new ProcUnreadableError(`the originator pid ${origin} of pid ${row.pid}`, 'unknown');
  return running ? null : { row, kind: 'orphaned', reason: `orphaned: originator ${row.originator} (pid ${origin}) is dead` };
}

/** One reader for the registry's life: it keeps each process's previous reading for CPU %. */
const usageReader = new UsageReader();

function fillUsage(infos: TrackedProcessInfo[]): void {
  const alive = infos.filter((i) => i.state === ProcessState.PROCESS_STATE_ALIVE);
  const usage = usageReader.read(alive.map((i) => i.pid));
  for (const info of alive) {
    // Exited between the check and the measurement, or unreadable now: zeros.
    const u = usage.get(info.pid);
    info.cpuPercent = u?.cpu ?? 0;
    info.memoryBytes = u?.memory ?? 0;
  }
}
