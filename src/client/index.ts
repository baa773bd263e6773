// The client library's public surface.
export { connect, DaemonNotRunningError, type ConnectOptions } from './connect';
export { DaemonClient, type CallOptions, type DaemonStream } from './daemon-client';
export { FrameStream } from './stream';
import './sessions-api';
export { PipeAttachment, decodePipeFrame, type PipeFrame, type PipeSessionInfo, type SpawnPipeOptions } from './sessions-api';
