// Package entry point: the client library, the wire types and the typed errors.
export * from './client';
export { pb, RequestType, StatusCode, PROTOCOL_VERSION } from './wire/proto';
export {
  DaemonError, InvalidArgumentError, NotFoundError, AlreadyAttachedError, UnavailableError, WireError, statusName,
  StartFailedError, CommandNotFoundError, CommandNotExecutableError, startFailureExitCode,
} from './wire/errors';
export { resolveScopePaths, type ScopePaths } from './scope/paths';
