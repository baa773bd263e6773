// The client library's public surface.
export { connect, DaemonNotRunningError, type ConnectOptions } from './connect';
export { DaemonClient, type CallOptions, type DaemonStream } from './daemon-client';
export { FrameStream } from './stream';
import './sessions-api';
export { PipeAttachment, decodePipeFrame, type PipeFrame, type PipeSessionInfo, type SpawnPipeOptions } from './sessions-api';
import './pty-api';
export { PtyAttachment, decodePtyFrame, type PtyFrame, type PtyReplay, type PtySessionInfo, type SpawnPtyOptions, type AttachPtyOptions } from './pty-api';
