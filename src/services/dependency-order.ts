// depends_on as a graph: cycle detection (the cycle named in order) and the order in which a set of
// services starts (dependencies first) or stops (dependents first). Pure functions over names.

/** name → names it depends on. */
export type DependencyGraph = ReadonlyMap<string, readonly string[]>;

/** The first cycle found, as a path that returns to its start (a → b → a), or null. */
export function findCycle(graph: DependencyGraph): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    const s = state.get(name);
    if (s === 'done') return null;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of graph.get(name) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return null;
  };
  for (const name of [...graph.keys()].sort()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return null;
}

/**
 * Groups `names` into levels: every name's dependencies (within the set) sit in earlier levels.
 * Start level by level; stop in the reverse. The graph must be acyclic.
 */
export function startLevels(names: readonly string[], graph: DependencyGraph): string[][] {
  const inSet = new Set(names);
  const depth = new Map<string, number>();
  const depthOf = (name: string, guard: number): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (guard > inSet.size) throw new Error(`dependency cycle through ${name}`);
    let d = 0;
    for (const dep of graph.get(name) ?? []) if (inSet.has(dep)) d = Math.max(d, depthOf(dep, guard + 1) + 1);
    depth.set(name, d);
    return d;
  };
  const levels: string[][] = [];
  for (const name of names) {
    const d = depthOf(name, 0);
    (levels[d] ??= []).push(name);
  }
  return levels.filter((l) => l !== undefined);
}

/** Every name that depends on one of `names`, directly or through others (not including them). */
export function dependentsOf(names: readonly string[], graph: DependencyGraph): string[] {
  const found = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const target = queue.pop()!;
    for (const [name, deps] of graph) {
      if (deps.includes(target) && !found.has(name) && !names.includes(name)) {
        found.add(name);
        queue.push(name);
      }
    }
  }
  return [...found];
}
