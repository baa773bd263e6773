// Test-only fault injection (runpmd --inject-fault TYPE[:ENOSPC]): the handler for that request
// type throws (a plain error, or a disk-full error with code ENOSPC), so tests can see a handler
// failure become INTERNAL, or an ENOSPC release the emergency reserve, while the daemon keeps serving.
import { RequestType } from '../wire/proto';
import type { DispatchEntry } from './dispatch';

/** Wraps the entry for `spec` (e.g. "PING" or "PING:ENOSPC") so that it throws. */
export function injectFault(entries: DispatchEntry[], spec: string): DispatchEntry[] {
  const [typeName, kind = ''] = spec.split(':');
  const type = RequestType[`REQUEST_TYPE_${typeName.toUpperCase()}` as keyof typeof RequestType];
  if (type === undefined) throw new Error(`--inject-fault: unknown request type ${JSON.stringify(typeName)}`);
  if (kind !== '' && kind.toUpperCase() !== 'ENOSPC') throw new Error(`--inject-fault: unknown fault ${JSON.stringify(kind)} (expected ENOSPC)`);
  const fail = (): never => {
    if (kind === '') throw new Error(`injected fault in ${typeName}`);
    throw Object.assign(new Error(`ENOSPC: no space left on device, injected in ${typeName}`), { code: 'ENOSPC' });
  };
  return entries.map((e) => (e.type === type ? { ...e, handle: fail } : e));
}
