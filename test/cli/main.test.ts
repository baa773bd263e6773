// The CLI loads only the family owning the command on the line: commandWordOf() finds that word,
// and each family's `words` list must match what the family registers (else a command would be
// routed to the wrong family, or `runpm --help` would be the only place it shows up).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { ROOT } from '../helpers/daemon';

// The built module: its lazy require()s of the families resolve in dist/ (vitest's transform would not).
const { COMMAND_FAMILIES, buildProgram, commandWordOf } = require(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')) as typeof import('../../src/cli/main');

describe('runpm command routing', () => {
  it('finds the command word past global flags and their values', () => {
    expect(commandWordOf(['list'])).toBe('list');
    expect(commandWordOf(['--json', '--scope', 'x', '--home', '/h', 'daemon', 'ping'])).toBe('daemon');
    expect(commandWordOf(['--socket', '/s.sock', '--scope=x', 'ps', '--json'])).toBe('ps');
    expect(commandWordOf(['--help'])).toBeNull();
    expect(commandWordOf([])).toBeNull();
    expect(commandWordOf(['--scope'])).toBeNull();
  });

  it("lists exactly the words (names and aliases) each family registers, and no word twice", () => {
    const seen = new Set<string>();
    for (const family of COMMAND_FAMILIES) {
      const program = new Command('runpm');
      family.load()(program);
      const registered = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
      expect([...family.words].sort()).toEqual([...registered].sort());
      for (const w of family.words) {
        expect(seen.has(w), `word ${w} in two families`).toBe(false);
        seen.add(w);
      }
    }
  });

  it('builds one family for a known word and all of them for help or an unknown word', () => {
    const all = buildProgram().commands.length;
    expect(buildProgram(['--json', 'list']).commands.map((c) => c.name())).toContain('list');
    expect(buildProgram(['list']).commands.length).toBeLessThan(all);
    expect(buildProgram(['daemon', 'ping']).commands.map((c) => c.name())).toEqual(['daemon']);
    expect(buildProgram(['--help']).commands.length).toBe(all);
    expect(buildProgram(['nonesuch']).commands.length).toBe(all);
    expect(buildProgram(['--version']).commands.length).toBe(0);
    // The version (a package.json read) is set up only where it can be asked for.
    expect(buildProgram(['--version']).version()).toMatch(/^\d+\.\d+\.\d+/);
    expect(buildProgram(['--help']).version()).toMatch(/^\d+\.\d+\.\d+/);
    expect(buildProgram(['list']).version()).toBeUndefined();
  });
});
