// The client library's public surface.
export { connect, DaemonNotRunningError, type ConnectOptions } from './connect';
export { DaemonClient, type CallOptions, type DaemonStream } from './daemon-client';
export { FrameStream } from './stream';
import './events-api';
export type { DaemonEvent, EventSubscription } from './events-api';
import './registry-api';
export type { TrackedProcess, ZombieReport } from './registry-api';
import './sessions-api';
export { PipeAttachment, decodePipeFrame, type PipeFrame, type PipeSessionInfo, type SpawnPipeOptions } from './sessions-api';
export type { EnvironmentPolicy, EnvInput, SpawnContextOptions } from './spawn-context';
import './exec-api';
export { NON_INTERACTIVE_ENV, type ExecOptions, type ExecResult } from './exec-api';
import './services-api';
export { followLogFiles, type ServiceConfigInput, type ServiceInfo } from './services-api';
import './tee-api';
export type { TeeOptions, TeeStatus } from './tee-api';
import './pty-api';
export { PtyAttachment, decodePtyFrame, type PtyFrame, type PtyReplay, type PtySessionInfo, type SpawnPtyOptions, type AttachPtyOptions } from './pty-api';
