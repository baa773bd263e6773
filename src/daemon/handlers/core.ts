// PING, STATUS and SHUTDOWN: the daemon's own requests.
import { RequestType } from '../../wire/proto';
import { InvalidArgumentError } from '../../wire/errors';
import { unary, type DispatchEntry } from '../dispatch';

/** Shutdown grace when the request gives none. */
const DEFAULT_SHUTDOWN_GRACE_MS = 5000;
const MAX_SHUTDOWN_GRACE_MS = 600_000;

export const coreEntries: DispatchEntry[] = [
  unary(RequestType.REQUEST_TYPE_PING, 'ping', () => ({ serverTimeMs: Date.now() })),

  unary(RequestType.REQUEST_TYPE_STATUS, 'status', (_req, { state }) => ({
    version: state.version,
    uptimeSeconds: Math.floor((Date.now() - state.startedAtMs) / 1000),
    trackedProcessCount: state.trackedProcessCount(),
    activeConnections: state.activeConnections,
    socketPath: state.config.paths.socketPath,
    dbPath: state.config.paths.dbPath,
    scope: state.config.paths.scope,
    scopeHash: state.config.paths.scopeHash,
    scopeCwd: state.cwd,
    emergencyReserve: state.emergencyReserve,
  })),

  // Answer first, then stop: the response is flushed before shutdown begins.
  unary(RequestType.REQUEST_TYPE_SHUTDOWN, 'shutdown', (req, ctx) => {
    const seconds = req.timeoutSeconds;
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new InvalidArgumentError(`timeout_seconds must be a non-negative number, got ${seconds}`);
    }
    const graceMs = seconds === 0 ? DEFAULT_SHUTDOWN_GRACE_MS : Math.min(seconds * 1000, MAX_SHUTDOWN_GRACE_MS);
    ctx.afterResponse(() => ctx.state.requestShutdown({ graceful: req.graceful, graceMs }));
    return {};
  }),
];
