// The daemon's tees: per session, a table of FileTees keyed by handle (unique per session, from 1).
// A session's table lives as long as the session object (WeakMap); a tee lives until it is
// unregistered or its stream ends. On daemon shutdown every open tee is flushed and closed.
import type { FileTee } from './file-tee';
import type { TeeStreamName } from './tee-kinds';

/** How long shutdown waits for tee files to flush before giving up on them. */
const SHUTDOWN_FLUSH_CAP_MS = 5000;

/** One registered tee. */
export interface TeeEntry {
  readonly handle: number;
  readonly stream: TeeStreamName;
  readonly tee: FileTee;
  /** Stops the stream feeding the tee (removes the tap, releases any pause). */
  readonly detach: () => void;
}

class SessionTees {
  nextHandle = 1;
  readonly entries = new Map<number, TeeEntry>();
}

export class TeeRegistry {
  private readonly bySession = new WeakMap<object, SessionTees>();
  private readonly open = new Set<FileTee>();

  /** @param writeDelayMs test-only slow sink (RUNPM_TEST_TEE_WRITE_DELAY_MS). */
  constructor(readonly writeDelayMs = 0) {}

  /** Records a tee for the session and returns its handle. */
  add(session: object, stream: TeeStreamName, tee: FileTee, detach: () => void): number {
    let tees = this.bySession.get(session);
    if (!tees) {
      tees = new SessionTees();
      this.bySession.set(session, tees);
    }
    const handle = tees.nextHandle++;
    tees.entries.set(handle, { handle, stream, tee, detach });
    this.open.add(tee);
    void tee.closed.then(() => this.open.delete(tee));
    return handle;
  }

  /** The tee with this handle on the session, or undefined. */
  get(session: object, handle: number): TeeEntry | undefined {
    return this.bySession.get(session)?.entries.get(handle);
  }

  /** Unregisters: detaches from the stream, flushes what is queued, closes the file. */
  async remove(session: object, handle: number): Promise<boolean> {
    const tees = this.bySession.get(session);
    const entry = tees?.entries.get(handle);
    if (!tees || !entry) return false;
    tees.entries.delete(handle);
    entry.detach();
    await entry.tee.flushAndClose();
    return true;
  }

  /** Tees whose files are still open. */
  get openCount(): number {
    return this.open.size;
  }

  /** Daemon shutdown (after the sessions ended): flush every open tee, bounded in time. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.open].map((t) => t.flushAndClose())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_CAP_MS))),
    ]);
    clearTimeout(timer);
  }
}
