// Every request family's dispatch entries, in one list. A family adds itself here.
import type { DispatchEntry } from '../dispatch';
import { coreEntries } from './core';
import { eventEntries } from './events';
import { registryEntries } from './registry';
import { pipeSessionEntries } from './pipe-sessions';
import { sessionOpEntries } from './session-ops';
import { serviceEntries } from './services';
import { serviceLogEntries } from './service-logs';
import { teeEntries } from './tee';
import { ptySessionEntries } from './pty-sessions';
import { observerEntries } from './observers';

export function allEntries(): DispatchEntry[] {
  return [
    ...coreEntries,
    ...eventEntries,
    ...registryEntries,
    ...pipeSessionEntries,
    ...sessionOpEntries,
    ...serviceEntries,
    ...serviceLogEntries,
    ...teeEntries,
    ...ptySessionEntries,
    ...observerEntries,
  ];
}
