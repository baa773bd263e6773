// parseDetachKey and shellExitCode: the pure pieces of `runpm attach`.
import { describe, expect, it } from 'vitest';
import { parseDetachKey, shellExitCode } from '../../src/cli/terminal-attach';

describe('parseDetachKey', () => {
  it('reads ^X notation, one character and none', () => {
    expect(parseDetachKey('^\\')).toBe(0x1c);
    expect(parseDetachKey('^]')).toBe(0x1d);
    expect(parseDetachKey('^a')).toBe(0x01);
    expect(parseDetachKey('^A')).toBe(0x01);
    expect(parseDetachKey('^@')).toBe(0x00);
    expect(parseDetachKey('^?')).toBe(0x7f);
    expect(parseDetachKey('q')).toBe(0x71);
    expect(parseDetachKey('none')).toBeNull();
  });

  it('rejects anything else, naming it', () => {
    expect(() => parseDetachKey('abc')).toThrow(/--detach-key expects .* got "abc"/);
    expect(() => parseDetachKey('^1')).toThrow(/got "\^1"/);
    expect(() => parseDetachKey('é')).toThrow(/got "é"/);
  });
});

describe('shellExitCode', () => {
  it('maps exit codes and signal deaths the way a shell reports them', () => {
    expect(shellExitCode(0)).toBe(0);
    expect(shellExitCode(7)).toBe(7);
    expect(shellExitCode(-15)).toBe(143);
    expect(shellExitCode(-9)).toBe(137);
  });
});
