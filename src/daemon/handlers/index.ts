// Every request family's dispatch entries, in one list. A family adds itself here.
import type { DispatchEntry } from '../dispatch';
import { coreEntries } from './core';
import { pipeSessionEntries } from './pipe-sessions';
import { sessionOpEntries } from './session-ops';
import { ptySessionEntries } from './pty-sessions';

export function allEntries(): DispatchEntry[] {
  return [
    ...coreEntries,
    ...pipeSessionEntries,
    ...sessionOpEntries,
    ...ptySessionEntries,
  ];
}
