// Renders a process and its descendants as a text tree (GetProcessTree), from one snapshot of
// the process table:  `name (pid=N) cmdline`, children under `├── ` / `└── ` with `│   ` rails.
import { readProcessTable, buildChildrenMap, readCmdline, type ProcStat } from './process-table';

/** Most lines rendered; a larger tree ends with a "… N more" line so the answer stays bounded. */
export const MAX_TREE_LINES = 10_000;

function label(stat: ProcStat): string {
  const cmd = readCmdline(stat.pid).join(' ');
  return cmd ? `${stat.comm} (pid=${stat.pid}) ${cmd}` : `${stat.comm} (pid=${stat.pid})`;
}

/** The tree rooted at pid, or null when pid does not exist. */
export function renderProcessTree(pid: number, table: Map<number, ProcStat> = readProcessTable()): string | null {
  const root = table.get(pid);
  if (!root) return null;
  const children = buildChildrenMap(table);
  const lines = [label(root)];
  let omitted = 0;
  const seen = new Set([pid]);
  const walk = (parent: number, prefix: string) => {
    const kids = (children.get(parent) ?? []).filter((k) => !seen.has(k));
    kids.forEach((kid, i) => {
      seen.add(kid);
      const last = i === kids.length - 1;
      if (lines.length >= MAX_TREE_LINES) omitted++;
      else lines.push(`${prefix}${last ? '└── ' : '├── '}${label(table.get(kid)!)}`);
      walk(kid, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(pid, '');
  if (omitted > 0) lines.push(`… ${omitted} more`);
  return lines.join('\n');
}
