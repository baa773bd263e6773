// Typed errors: each class carries its StatusCode and name, and statusName() prints the code the
// CLI shows after a message.
import { describe, expect, it } from 'vitest';
import { DaemonError, ResourceExhaustedError, statusName } from '../../src/wire/errors';
import { StatusCode } from '../../src/wire/proto';

describe('typed errors', () => {
  it('ResourceExhaustedError is a DaemonError with STATUS_CODE_RESOURCE_EXHAUSTED (from our 1120-1139 block)', () => {
    const err = new ResourceExhaustedError('too many open files (EMFILE): the limit is 64');
    expect(err).toBeInstanceOf(DaemonError);
    expect(err.name).toBe('ResourceExhaustedError');
    expect(err.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    expect(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED).toBe(1120);
    expect(statusName(err.code)).toBe('RESOURCE_EXHAUSTED');
  });
});
