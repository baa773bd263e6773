// Test-only fault injection (runpmd --inject-fault TYPE): the handler for that request type
// throws, so tests can see a handler failure become INTERNAL while the daemon keeps serving.
import { RequestType } from '../wire/proto';
import type { DispatchEntry } from './dispatch';

/** Wraps the entry for `typeName` (e.g. "PING") so that it throws. */
export function injectFault(entries: DispatchEntry[], typeName: string): DispatchEntry[] {
  const type = RequestType[`REQUEST_TYPE_${typeName.toUpperCase()}` as keyof typeof RequestType];
  if (type === undefined) throw new Error(`--inject-fault: unknown request type ${JSON.stringify(typeName)}`);
  return entries.map((e) => (e.type === type
    ? { ...e, handle: () => { throw new Error(`injected fault in ${typeName}`); } }
    : e));
}
