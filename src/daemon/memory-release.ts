// Giving memory back after heavy connections: V8 frees the buffers of a closed connection only
// when their wrappers are collected, which an idle daemon may not do for a long time, so RSS stayed
// high after a flood had gone. Once a connection that held much (a full queue, a response budget
// reached, a big partial frame) closes, one full GC runs after RELEASE_DELAY_MS of quiet (at most
// one per delay however many close). Lives as long as the daemon; the timer never holds it up.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

const RELEASE_DELAY_MS = 500;

let collect: (() => void) | null | undefined;
let timer: NodeJS.Timeout | null = null;

/** The engine's gc(), exposed without a command-line flag; null where that is not possible. */
function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  } catch {
    collect = null;
  }
  return collect;
}

/** Runs when a connection that held much memory closed: a full GC soon, once. */
export function scheduleMemoryRelease(): void {
  if (timer) timer.refresh();
  else {
    timer = setTimeout(() => {
      timer = null;
      collector()?.();
    }, RELEASE_DELAY_MS);
    timer.unref();
  }
}
