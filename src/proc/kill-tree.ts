// Killing a whole process tree from the OS process table: freeze (SIGSTOP) the root and every
// descendant so nothing can fork away, then SIGKILL them all and retry until they are gone or the
// deadline passes. Every signal is preceded by a start-time check so a reused pid is never hit.
import { readProcessTable, buildChildrenMap, isSameProcessAlive, type ProcIdentity } from './process-table';

const RETRY_INTERVAL_MS = 20;
/** Freeze passes before giving up on catching forks (each pass picks up new children). */
const MAX_FREEZE_PASSES = 50;

export interface KillTreeResult {
  /** Processes that received SIGKILL and are gone (exited or zombie) by the end. */
  killed: number;
  /** Processes that were signalled but still ran at the deadline. */
  survivors: ProcIdentity[];
}

/** Sends sig to the identity if its pid still has the same start time; false if gone or refused. */
export function signalIdentity(identity: ProcIdentity, sig: NodeJS.Signals): boolean {
  if (isGone(identity)) return false;
  // N.B. a tiny race remains between this check and kill(2); pidfds would close it, Node has none.
  try {
    process.kill(identity.pid, sig);
    return true;
  } catch {
    return false;
  }
}

function isGone(identity: ProcIdentity): boolean {
  return !isSameProcessAlive(identity.pid, identity.startTicks);
}

/** Root plus its live descendants (start times from the same snapshot), parents before children. */
export function collectTree(root: ProcIdentity): ProcIdentity[] {
  const table = readProcessTable();
  const rootStat = table.get(root.pid);
  if (!rootStat || rootStat.startTicks !== root.startTicks) return [];
  const children = buildChildrenMap(table);
  const out: ProcIdentity[] = [root];
  const seen = new Set([root.pid]);
  for (let i = 0; i < out.length; i++) {
    for (const child of children.get(out[i].pid) ?? []) {
      const stat = table.get(child)!;
      // A child cannot start before its parent: an older "child" is a pid-reuse artefact.
      if (seen.has(child) || stat.startTicks < out[i].startTicks) continue;
      seen.add(child);
      out.push({ pid: child, startTicks: stat.startTicks });
    }
  }
  return out;
}

/**
 * Kills root and all its descendants; runs when a caller asks for a tree to be torn down
 * (KillTree, orphan reaping, session escalation). `protect` pids are never signalled.
 */
export async function killProcessTree(root: ProcIdentity, opts: { timeoutMs: number; protect?: Set<number> }): Promise<KillTreeResult> {
  const protect = opts.protect ?? new Set<number>();
  const members = new Map<number, ProcIdentity>();
  const frozen = new Set<number>();
  // Freeze top-down until a pass finds nobody new: a stopped process cannot fork.
  for (let pass = 0; pass < MAX_FREEZE_PASSES; pass++) {
    let found = false;
    const roots = pass === 0 ? [root] : [...members.values()];
    for (const r of roots) {
      for (const id of collectTree(r)) {
        if (protect.has(id.pid) || members.has(id.pid)) continue;
        members.set(id.pid, id);
        found = true;
      }
    }
    for (const id of members.values()) {
      if (!frozen.has(id.pid) && signalIdentity(id, 'SIGSTOP')) frozen.add(id.pid);
    }
    if (!found) break;
  }
  const signalled = [...members.values()].filter((id) => signalIdentity(id, 'SIGKILL'));
  const deadline = Date.now() + opts.timeoutMs;
  let survivors = signalled.filter((id) => !isGone(id));
  while (survivors.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, RETRY_INTERVAL_MS));
    for (const id of survivors) signalIdentity(id, 'SIGKILL');
    survivors = survivors.filter((id) => !isGone(id));
  }
  return { killed: signalled.length - survivors.length, survivors };
}
