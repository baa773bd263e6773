// waitForExit(): a shell's `wait` for a daemon session. Woken by the lifecycle events (an exit or a
// removal of that session), with a slow look at the session lists as a backstop for events the
// subscription dropped; a fast one only while processes the command left behind still run (they
// send no event when they end).
import { DaemonClient } from './daemon-client';
import type { DaemonEvent, EventSubscription } from './events-api';
import type { SessionExit } from './exit-status';
import { NotFoundError } from '../wire/errors';

export interface WaitOptions {
  /** Give up after this many milliseconds (the result says timedOut); absent or 0: wait for ever. */
  timeoutMs?: number;
  /** Return at the leader's exit even while processes it left in its group or session still run. */
  leaderOnly?: boolean;
}

export interface WaitResult extends SessionExit {
  sessionId: string;
  kind: 'pipe' | 'pty';
  /** The leader has exited (exitCode and signal say how). */
  exited: boolean;
  /** Processes the command left in its group or session that still run (see leaderOnly). */
  leftoverPids: number[];
  /** The deadline passed first: the session (or what it left) still runs. */
  timedOut: boolean;
}

declare module './daemon-client' {
  interface DaemonClient {
    /**
     * Waits until the session has exited and nothing it left in its process group or session still
     * runs (like exec; `leaderOnly` for the leader alone), or until `timeoutMs`. Resolves with its
     * exit as a shell reports it (exitCode 128 + n and `signal` for a signal); NOT_FOUND for an
     * unknown id.
     */
    waitForExit(sessionId: string, opts?: WaitOptions): Promise<WaitResult>;
  }
}

/** Backstop look at the lists while only the leader runs (an exit event may have been dropped). */
const BACKSTOP_MS = 1000;
/** Look while the leader has exited but what it left still runs (those end without an event). */
const LEFTOVER_POLL_MS = 50;

async function stateOf(client: DaemonClient, sessionId: string): Promise<Omit<WaitResult, 'timedOut'>> {
  const [pipes, ptys] = await Promise.all([client.listPipes(), client.listPtys()]);
  const pipe = pipes.find((s) => s.sessionId === sessionId);
  const row = pipe ?? ptys.find((s) => s.sessionId === sessionId);
  if (!row) throw new NotFoundError(`no session with id ${JSON.stringify(sessionId)}`);
  return { sessionId, kind: pipe ? 'pipe' : 'pty', exited: row.exited, exitCode: row.exitCode, signal: row.signal, leftoverPids: [...row.leftoverPids] };
}

/** Resolves at the next event about this session (or when the subscription ends); never rejects. */
async function nextEventOf(events: AsyncIterator<DaemonEvent>, sessionId: string): Promise<DaemonEvent | null> {
  try {
    for (;;) {
      const r = await events.next();
      if (r.done) return null;
      if (r.value.sessionId === sessionId || r.value.kind === 'events.dropped') return r.value;
    }
  } catch {
    // The subscription broke: the lists are looked at anyway.
    return null;
  }
}

DaemonClient.prototype.waitForExit = async function (this: DaemonClient, sessionId: string, opts: WaitOptions = {}): Promise<WaitResult> {
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  // Subscribed before the first look, so an exit between the look and the wait still wakes us.
  let subscription: EventSubscription | null = await this.subscribeEvents({ kinds: ['session.exited', 'session.removed', 'events.dropped'] }).catch(() => null);
  const events = subscription?.[Symbol.asyncIterator]();
  let pendingEvent: Promise<void> | null = null;
  // The exit as its event told it: the session may be purged or reaped before the next look.
  let exitEvent: DaemonEvent | null = null;
  let kind: WaitResult['kind'] = 'pipe';
  try {
    for (;;) {
      const state = await stateOf(this, sessionId).catch((err: unknown) => {
        if (!(err instanceof NotFoundError) || !exitEvent) throw err;
        return { sessionId, kind, exited: true, exitCode: exitEvent.exitCode, signal: exitEvent.signal, leftoverPids: [] };
      });
      kind = state.kind;
      if (state.exited && (opts.leaderOnly || state.leftoverPids.length === 0)) return { ...state, timedOut: false };
      const left = deadline - Date.now();
      if (left <= 0) return { ...state, timedOut: true };
      const pause = Math.min(left, state.exited || !events ? LEFTOVER_POLL_MS : BACKSTOP_MS);
      if (events && !pendingEvent) {
        pendingEvent = nextEventOf(events, sessionId).then((e) => {
          pendingEvent = null;
          if (e?.kind === 'session.exited' && e.sessionId === sessionId) exitEvent = e;
        });
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([pendingEvent, new Promise((r) => (timer = setTimeout(r, pause)))]);
      clearTimeout(timer);
    }
  } finally {
    subscription?.close();
    subscription = null;
  }
};
