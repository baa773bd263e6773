// Unit tests of the pure pieces of supervision: dependency order, backoff, /proc stat parsing,
// copy-truncate rotation and tails, ecosystem entry mapping.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycle, startLevels, dependentsOf } from '../../src/services/dependency-order';
import { backoffDelayMs, checkServiceConfig } from '../../src/services/service-config';
import { rotateIfNeeded, tailLines, flushLog } from '../../src/services/log-files';
import { toServiceConfig, splitArgs, isEcosystemFile, orderByDependencies } from '../../src/cli/commands/services-ecosystem';
import { makeTempHome } from '../helpers/daemon';

describe('dependency order', () => {
  const g = new Map([['api', ['db', 'cache']], ['cache', ['db']], ['db', []], ['web', ['api']]]);
  it('levels put dependencies first and finds dependents transitively', () => {
    expect(startLevels(['web', 'api', 'cache', 'db'], g)).toEqual([['db'], ['cache'], ['api'], ['web']]);
    expect(dependentsOf(['db'], g).sort()).toEqual(['api', 'cache', 'web']);
  });
  it('names a cycle in order', () => {
    expect(findCycle(g)).toBeNull();
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('backoff', () => {
  const base = checkServiceConfig({ name: 'x', cmd: ['true'] }, { cwd: '/', logMaxBytes: 1024, logMaxFiles: 1 });
  it('doubles from 500 ms per quick crash and caps at 30 s', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(base, n))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelayMs(base, 20)).toBe(30_000);
    expect(backoffDelayMs({ ...base, restartDelayMs: 50 }, 0)).toBe(50);
  });
});

describe('log files', () => {
  it('rotates an overshooting file into chunks of at most the limit, keeping N', () => {
    const dir = makeTempHome();
    const file = path.join(dir, 'x-out.log');
    fs.writeFileSync(file, 'a'.repeat(1000) + 'b'.repeat(1000) + 'c'.repeat(500));
    expect(rotateIfNeeded(file, 1000, 2)).toBe(true);
    expect(fs.statSync(file).size).toBe(0);
    expect(fs.readFileSync(`${file}.1`, 'utf8')).toBe('c'.repeat(500));
    expect(fs.readFileSync(`${file}.2`, 'utf8')).toBe('b'.repeat(1000));
    expect(fs.existsSync(`${file}.3`)).toBe(false);
    fs.writeFileSync(file, 'line1\nline2\n');
    expect(rotateIfNeeded(file, 1000, 2)).toBe(false);
    expect(tailLines(file, 1).lines).toEqual(['line2']);
    // Fewer lines than asked: the rest comes from .1.
    expect(tailLines(file, 3).lines).toEqual(['c'.repeat(500), 'line1', 'line2']);
    flushLog(file);
    expect(fs.readdirSync(dir)).toEqual(['x-out.log']);
    fs.rmSync(dir, { recursive: true });
  });
  it('reads only the tail of a big file and drops the partial first line', () => {
    const dir = makeTempHome();
    const file = path.join(dir, 'big.log');
    fs.writeFileSync(file, Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n') + '\n');
    expect(tailLines(file, 10_000, 100).lines.every((l) => l.startsWith('line '))).toBe(true);
    expect(tailLines(file, 10_000, 100).lines.length).toBeLessThan(20);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('ecosystem entries', () => {
  it('maps pm2 keys and warns on unknown ones', () => {
    const warnings: string[] = [];
    const c = toServiceConfig({ name: 'a', script: 'app.py', args: '--port "8 0"', min_uptime: '2s', restart_delay: 250, max_memory_restart: '1G' }, '/srv', 'f', (m) => warnings.push(m));
    expect(c).toMatchObject({ name: 'a', cmd: ['python3', 'app.py', '--port', '8 0'], cwd: '/srv', minUptimeMs: 2000, restartDelayMs: 250, autorestart: true });
    expect(warnings).toEqual(["f: unknown key 'max_memory_restart' ignored"]);
    expect(splitArgs(`a 'b c' "d \\" e"`)).toEqual(['a', 'b c', 'd " e']);
    expect(isEcosystemFile('ecosystem.config.js')).toBe(true);
    expect(isEcosystemFile('runpm.config.toml')).toBe(true);
    expect(isEcosystemFile('server.js')).toBe(false);
    expect(() => orderByDependencies([{ name: 'a', dependsOn: ['b'] }, { name: 'b', dependsOn: ['a'] }])).toThrow('dependency cycle: a -> b -> a');
  });
});
