// Unit tests of the pure pieces of supervision: dependency order, backoff, /proc stat parsing,
// rotation's renames and cuts, tails, ecosystem entry mapping.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycle, startLevels, dependentsOf } from '../../src/services/dependency-order';
import { checkServiceConfig } from '../../src/services/service-config';
import { decideAfterExit } from '../../src/services/restart-policy';
import { tailLines, flushLog } from '../../src/services/log-files';
import { fittingPrefix, shiftRotated, splitForFiles } from '../../src/services/log-rotation';
import { splitArgs, isEcosystemFile, orderByDependencies } from '../../src/cli/commands/services-ecosystem';
import { planApp } from '../../src/cli/commands/pm2-app';
import { PM2_APP_KEYS } from '../../src/cli/commands/pm2-keys';
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

describe('restart policy (pm2 God.handleExit)', () => {
  const base = checkServiceConfig({ name: 'x', cmd: ['true'], autorestart: true }, { cwd: '/', logMaxBytes: 1024, logMaxFiles: 1 });
  const run = (c: typeof base, uptimes: number[], code = 1) => {
    const counters = { unstableRestarts: 0, backoffMs: 0 };
    return uptimes.map((u) => decideAfterExit(c, counters, u, code));
  };
  it('restarts at once by default and ends errored at the 16th quick exit (15 restarts)', () => {
    const out = run(base, Array(16).fill(10));
    expect(out.slice(0, 15)).toEqual(Array(15).fill({ action: 'restart', delayMs: 0 }));
    expect(out[15].action).toBe('errored');
  });
  it('keeps restart_delay fixed and resets the unstable count after a run past min_uptime', () => {
    const c = { ...base, restartDelayMs: 250, maxRestarts: 3 };
    expect(run(c, [10, 10, 5000, 10, 10])).toEqual(Array(5).fill({ action: 'restart', delayMs: 250 }));
    expect(run(c, [10, 10, 10])[2].action).toBe('errored');
  });
  it('grows exp_backoff_restart_delay x1.5 up to 15 s and starts again after 30 s up', () => {
    const c = { ...base, expBackoffRestartDelayMs: 100, maxRestarts: 100 };
    const delays = run(c, Array(12).fill(5000)).map((d) => (d.action === 'restart' ? d.delayMs : -1));
    expect(delays.slice(0, 5)).toEqual([100, 150, 225, 337, 505]);
    expect(run(c, Array(20).fill(5000)).at(-1)).toEqual({ action: 'restart', delayMs: 15_000 });
    expect(run(c, [5000, 5000, 31_000]).map((d) => (d.action === 'restart' ? d.delayMs : -1))).toEqual([100, 150, 100]);
  });
  it('stops on stop_exit_codes and with autorestart off', () => {
    expect(run({ ...base, stopExitCodes: [0, 3] }, [10], 3)[0].action).toBe('stop');
    expect(run({ ...base, stopExitCodes: [0, 3] }, [10], 4)[0].action).toBe('restart');
    expect(run({ ...base, autorestart: false }, [10])[0].action).toBe('stop');
  });
});

describe('log files', () => {
  it('shifts rotated files up, dropping the oldest beyond N; tails read across them; flush removes them', () => {
    const dir = makeTempHome();
    const file = path.join(dir, 'x-out.log');
    fs.writeFileSync(`${file}.1`, 'b\n');
    fs.writeFileSync(`${file}.2`, 'a\n');
    fs.writeFileSync(file, 'c\n');
    shiftRotated(file, 2);
    expect(fs.readdirSync(dir).sort()).toEqual(['x-out.log.1', 'x-out.log.2']);
    expect(fs.readFileSync(`${file}.1`, 'utf8')).toBe('c\n');
    expect(fs.readFileSync(`${file}.2`, 'utf8')).toBe('b\n');
    // A gap (a shift a crash cut short) is filled first: nothing more is dropped. A missing live file is fine.
    fs.renameSync(`${file}.1`, `${file}.3`);
    fs.writeFileSync(file, 'd\n');
    shiftRotated(file, 3);
    expect(fs.readdirSync(dir).sort()).toEqual(['x-out.log.1', 'x-out.log.2', 'x-out.log.3']);
    expect(['1', '2', '3'].map((i) => fs.readFileSync(`${file}.${i}`, 'utf8'))).toEqual(['d\n', 'b\n', 'c\n']);
    // Without a live file only the rotated ones shift.
    shiftRotated(file, 3);
    expect(fs.readdirSync(dir).sort()).toEqual(['x-out.log.2', 'x-out.log.3']);
    expect(fs.readFileSync(`${file}.3`, 'utf8')).toBe('b\n');
    fs.rmSync(`${file}.3`);
    fs.writeFileSync(file, 'line1\nline2\n');
    expect(tailLines(file, 1).lines).toEqual(['line2']);
    // Fewer lines than asked: the rest comes from .1 (here absent) and .2 is not read.
    expect(tailLines(file, 3).lines).toEqual(['line1', 'line2']);
    shiftRotated(file, 0);
    expect(fs.existsSync(file)).toBe(false);
    fs.writeFileSync(file, 'x\n');
    flushLog(file);
    expect(fs.readdirSync(dir)).toEqual(['x-out.log']);
    fs.rmSync(dir, { recursive: true });
  });
  it('cuts a chunk at its last newline that fits; a line longer than a file only into an empty one', () => {
    const chunk = Buffer.from('aaaa\nbbbb\ncc');
    expect(fittingPrefix(chunk, 100, false)).toBe(chunk.length);
    expect(fittingPrefix(chunk, 10, false)).toBe(10);
    expect(fittingPrefix(chunk, 9, false)).toBe(5);
    expect(fittingPrefix(chunk, 4, false)).toBe(0);
    expect(fittingPrefix(chunk, 4, true)).toBe(4);
    // Pieces: what fits the current file (maybe nothing), then one per new file.
    const texts = (size: number, max: number) => splitForFiles(chunk, size, max).map((b) => b.toString());
    expect(texts(0, 100)).toEqual(['aaaa\nbbbb\ncc']);
    expect(texts(95, 100)).toEqual(['aaaa\n', 'bbbb\ncc']);
    expect(texts(97, 100)).toEqual(['', 'aaaa\nbbbb\ncc']);
    expect(texts(0, 6)).toEqual(['aaaa\n', 'bbbb\n', 'cc']);
    expect(texts(0, 3)).toEqual(['aaa', 'a\n', 'bbb', 'b\n', 'cc']);
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
  it('maps pm2 keys with their meaning, warns on unknown ones and refuses the unsupported with the reason', () => {
    const dir = makeTempHome('rp-eco-');
    fs.writeFileSync(path.join(dir, 'app.py'), 'print(1)\n');
    const warnings: string[] = [];
    const ctx = { baseDir: dir, where: 'f', warn: (m: string) => warnings.push(m), callerEnv: { FROM_SHELL: 'yes' } };
    const { config: c } = planApp({ name: 'a', script: 'app.py', args: '--port "8 0"', min_uptime: '2s', restart_delay: 250, max_memory_restart: '1G', colour: 'blue' }, ctx);
    expect(c).toMatchObject({
      name: 'a', cmd: ['python3', path.join(dir, 'app.py'), '--port', '8 0'], cwd: dir, minUptimeMs: 2000, restartDelayMs: 250, autorestart: true,
      maxMemoryRestartBytes: 1024 ** 3,
    });
    // The caller's environment is the base (pm2 passes the shell's), python output unbuffered as pm2.
    expect(c.env).toMatchObject({ FROM_SHELL: 'yes', PYTHONUNBUFFERED: '1' });
    expect(warnings).toEqual(["f: unknown key 'colour' ignored"]);
    expect(() => planApp({ script: 'app.py', wait_ready: true }, ctx)).toThrow('f: wait_ready needs cluster mode in runpm');
    expect(() => planApp({ script: 'app.py', uid: 'nobody' }, ctx)).toThrow("f: 'uid' is not supported: every service runs as the daemon's user");
    const prod = planApp({ script: 'app.py', env: { MODE: 'dev', KEEP: '1' }, env_production: { MODE: 'prod' } }, { ...ctx, envName: 'production' });
    expect(prod.config.env).toMatchObject({ MODE: 'prod', KEEP: '1' });
    expect(splitArgs(`a 'b c' "d \\" e"`)).toEqual(['a', 'b c', 'd " e']);
    expect(isEcosystemFile('ecosystem.config.js')).toBe(true);
    expect(isEcosystemFile('runpm.config.toml')).toBe(true);
    expect(isEcosystemFile('apps.yaml')).toBe(true);
    expect(isEcosystemFile('pm2-ecosystem.json')).toBe(true);
    expect(isEcosystemFile('server.js')).toBe(false);
    expect(() => orderByDependencies([{ name: 'a', dependsOn: ['b'] }, { name: 'b', dependsOn: ['a'] }])).toThrow('dependency cycle: a -> b -> a');
    fs.rmSync(dir, { recursive: true });
  });
});

describe('the README pm2 table', () => {
  it('names every pm2 key runpm knows, each with what runpm does', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| key (aliases) | flag | runpm |'));
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n');
    const missing = Object.keys(PM2_APP_KEYS).filter((k) => !rows.some((r) => r.split('|')[1]?.includes(`\`${k}\``)));
    expect(missing).toEqual([]);
    for (const [k, h] of Object.entries(PM2_APP_KEYS)) {
      const row = rows.find((r) => r.split('|')[1]?.includes(`\`${k}\``))!;
      if (h.handling === 'refused') expect(row, k).toMatch(/refused/);
      if (h.handling === 'no-effect') expect(row, k).toMatch(/no effect/);
    }
  });
});
