// Stopping a service's whole process tree, over src/proc's GroupEscalation: SIGTERM to its group,
// kill_timeout, then SIGKILL to the group and to every descendant that escaped it. Each call lives
// until every process it saw is gone.
import { terminateGroupTree } from '../proc/kill-escalation';

/**
 * Stops the tree of a service leader (pid + start time): SIGTERM (or `firstSignal`) to the
 * group, wait up to graceMs for every member and descendant to exit, then SIGKILL whatever is
 * left. Resolves with how many processes needed SIGKILL.
 */
export function killServiceTree(rootPid: number, rootStartTime: number, graceMs: number, firstSignal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  return terminateGroupTree({ pid: rootPid, startTicks: rootStartTime }, graceMs, firstSignal);
}
