// Black-box: commands started through runpm run where and with what the caller has, like a child
// of the caller's shell (checked side by side with `sh -c`): its cwd (relative paths, --cwd), its
// environment and PATH, never the daemon's own variables; the environment policies on the wire and
// their bad values; and start failures as a shell's 127 / 126 results in CLI and library.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUNPM, makeTempHome, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { startFailureExitCode } from '../../src/wire/errors';
import { expectDaemonError } from './helpers';
import '../../src/client';

let daemon: TestDaemon | null = null;
let work = '';

beforeAll(() => {
  work = makeTempHome('rp-ctx-');
  fs.mkdirSync(path.join(work, 'bin'));
  fs.mkdirSync(path.join(work, 'sub'));
  fs.writeFileSync(path.join(work, 'bin', 'caller-tool'), '#!/bin/sh\necho "caller-tool in $PWD"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(work, 'script.sh'), '#!/bin/sh\necho "script $1"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(work, 'plain'), 'not a program\n', { mode: 0o644 });
  fs.mkdirSync(path.join(work, 'adir'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/runpm from `cwd` with `env` (the caller's context). */
function runpmIn(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPM, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The same command line run by sh from the same place (the peer to compare with). */
function shIn(cwd: string, env: NodeJS.ProcessEnv, script: string): Ran {
  const r = spawnSync('/bin/sh', ['-c', script], { cwd, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A caller environment: the daemon's client env plus a PATH entry and a variable the daemon never had. */
function callerEnv(d: TestDaemon): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...d.env, PATH: `${path.join(work, 'bin')}:${d.env.PATH}`, AGENT_VAR: 'from-the-caller' };
  delete env.DAEMON_ONLY_VAR; // startDaemon's env option reaches the daemon only
  return env;
}

function envLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\0')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** The environment a `runpm run --pipe [flags] -- env -0` child got (raw backlog: no exec line cutting). */
async function envOfRun(d: TestDaemon, cwd: string, env: NodeJS.ProcessEnv, flags: string[] = []): Promise<Map<string, string>> {
  const r = await runpmIn(cwd, env, ['run', '--pipe', ...flags, '--', '/usr/bin/env', '-0']);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  return envLines(await waitFor(async () => {
    const b = await d.client.backlog(id);
    return b.exited ? Buffer.from(b.backlog).toString() : null;
  }, `session ${id} to exit`));
}

describe('caller context: run and exec', () => {
  it('exec runs in the caller\'s directory, relative programs and --cwd resolve from it, PATH lookups use the caller\'s PATH', async () => {
    daemon = await startDaemon();
    const env = callerEnv(daemon);
    const sub = path.join(work, 'sub');
    for (const [args, script] of [
      [['pwd'], 'pwd'],
      [['./script.sh', 'x'], './script.sh x'],
      [['caller-tool'], 'caller-tool'],
      [['sh', '-c', 'echo "$AGENT_VAR"'], 'echo "$AGENT_VAR"'],
    ] as Array<[string[], string]>) {
      const ours = await runpmIn(work, env, ['exec', '--', ...args]);
      const peer = shIn(work, env, script);
      expect(ours, args.join(' ')).toMatchObject({ code: peer.code, stdout: peer.stdout });
    }
    expect((await runpmIn(work, env, ['exec', '--cwd', 'sub', '--', 'pwd'])).stdout).toBe(`${fs.realpathSync(sub)}\n`);
    expect((await runpmIn(sub, env, ['exec', '--', '../script.sh', 'up'])).stdout).toBe('script up\n');
  });

  it('gives the child the caller\'s environment exactly, plus only the documented session marks and the exec set', async () => {
    daemon = await startDaemon({ env: { DAEMON_ONLY_VAR: 'daemon' } });
    const env = { ...callerEnv(daemon), GONE_FROM_DAEMON: 'caller' };
    const ours = await envOfRun(daemon, work, env);
    const peer = envLines(shIn(work, env, 'exec env -0').stdout);
    // What sh's child sees, bar what sh itself sets (PWD, SHLVL, _), the runpm child sees too.
    for (const key of ['PWD', 'OLDPWD', 'SHLVL', '_']) peer.delete(key);
    for (const [k, v] of peer) expect(ours.get(k), k).toBe(v);
    // Exactly the caller's environment, plus the documented session marks.
    const added = [...ours.keys()].filter((k) => env[k] === undefined).sort();
    expect(added).toEqual(['RUNNING_PROCESS_ORIGINATOR', 'RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE']);
    for (const [k, v] of Object.entries(env)) expect(ours.get(k), k).toBe(v);
    expect(ours.has('DAEMON_ONLY_VAR')).toBe(false);
    // The exec set goes over the caller's environment (TERM, PAGER, ...).
    const withSet = await runpmIn(work, { ...env, PAGER: 'less' }, ['exec', '--', 'sh', '-c', 'echo "$PAGER $CI $TERM $AGENT_VAR"']);
    expect(withSet.stdout).toBe('cat 1 dumb from-the-caller\n');
  });

  it('run --pipe and run --pty start in the caller\'s directory and environment (a PTY keeps its own TERM)', async () => {
    daemon = await startDaemon();
    const env = { ...callerEnv(daemon), TERM: 'vt100' };
    const pipe = await runpmIn(work, env, ['run', '--pipe', '--', 'sh', '-c', 'echo "$PWD $AGENT_VAR $TERM"; caller-tool']);
    expect(pipe, pipe.stderr).toMatchObject({ code: 0 });
    const pty = await runpmIn(path.join(work, 'sub'), env, ['run', '--pty', '--', 'sh', '-c', 'echo "$PWD $AGENT_VAR $TERM"']);
    expect(pty, pty.stderr).toMatchObject({ code: 0 });
    const c = daemon.client;
    const outOf = (id: string) => waitFor(async () => {
      const b = await c.backlog(id);
      return b.exited ? Buffer.from(b.backlog).toString().replace(/\r/g, '') : null;
    }, `session ${id} to exit`);
    const real = fs.realpathSync(work);
    expect(await outOf(pipe.stdout.trim())).toBe(`${real} from-the-caller vt100\ncaller-tool in ${real}\n`);
    expect(await outOf(pty.stdout.trim())).toBe(`${real}/sub from-the-caller xterm-256color\n`);
  });

  it('--env-policy picks the daemon\'s environment (without its own RUNPM_ variables), a login baseline or nothing', async () => {
    daemon = await startDaemon({ env: { DAEMON_ONLY_VAR: 'daemon' } });
    const env = callerEnv(daemon);
    const inherit = await envOfRun(daemon, work, env, ['--env-policy', 'inherit']);
    expect(inherit.get('DAEMON_ONLY_VAR')).toBe('daemon');
    expect(inherit.has('AGENT_VAR')).toBe(false);
    expect([...inherit.keys()].filter((k) => k.startsWith('RUNPM_'))).toEqual(['RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE']);
    const baseline = await envOfRun(daemon, work, env, ['--env-policy', 'user-baseline']);
    expect(baseline.get('PATH')).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(baseline.get('HOME')).toBe(require('node:os').userInfo().homedir);
    expect(baseline.has('DAEMON_ONLY_VAR')).toBe(false);
    expect(baseline.has('AGENT_VAR')).toBe(false);
    const clear = await envOfRun(daemon, work, env, ['--clear-env', '--env', 'ONLY=1']);
    expect([...clear.keys()].sort()).toEqual(['ONLY', 'RUNNING_PROCESS_ORIGINATOR', 'RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE']);
    const bad = await runpmIn(work, env, ['exec', '--env-policy', 'daemon', '--', 'true']);
    expect(bad).toMatchObject({ code: 1, stderr: 'runpm: --env-policy must be caller, inherit, user-baseline, clear, got "daemon"\n' });
  });
});

describe('start failures are results with a shell\'s status', () => {
  const cases: Array<[string, number, string]> = [
    ['no-such-cmd', 127, 'no-such-cmd: command not found'],
    ['./no-such', 127, './no-such: No such file or directory'],
    ['./plain', 126, './plain: Permission denied'],
    ['./adir', 126, './adir: Is a directory'],
  ];

  it('runpm exec, run --pipe and run --pty exit 127 / 126 as sh does, with bash\'s wording; --json gives a result', async () => {
    daemon = await startDaemon();
    const env = callerEnv(daemon);
    for (const [program, status, message] of cases) {
      expect(shIn(work, env, program).code, `sh ${program}`).toBe(status);
      for (const args of [['exec', '--'], ['run', '--pipe', '--'], ['run', '--pty', '--']]) {
        const r = await runpmIn(work, env, [...args, program]);
        expect(r, `${args.join(' ')} ${program}`).toEqual({ code: status, stdout: '', stderr: `runpm: ${message}\n` });
      }
      const json = await runpmIn(work, env, ['--json', 'exec', '--', program]);
      expect(json.code).toBe(status);
      expect(JSON.parse(json.stdout)).toMatchObject({ success: false, exitCode: status, output: `${message}\n`, startError: message, sessionId: '' });
      const run = await runpmIn(work, env, ['--json', 'run', '--pipe', '--', program]);
      expect(run.code).toBe(status);
      expect(JSON.parse(run.stdout)).toEqual({ started: false, exitCode: status, error: message });
    }
    expect(await daemon.client.listPipes()).toEqual([]);
    expect(await daemon.client.listPtys()).toEqual([]);
  });

  it('the library: exec resolves with the status; spawnPipe/spawnPty reject with a typed code that maps to it', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const result = await c.exec({ argv: ['no-such-cmd'], cwd: work, separateStderr: true });
    expect(result).toMatchObject({ exitCode: 127, success: false, output: '', stderr: 'no-such-cmd: command not found\n' });
    const pipeErr = await c.spawnPipe({ argv: ['./plain'], cwd: work }).catch((e: unknown) => e);
    expect(startFailureExitCode(pipeErr)).toBe(126);
    await expectDaemonError(c.spawnPty({ argv: ['./plain'], cwd: work }), StatusCode.STATUS_CODE_COMMAND_NOT_EXECUTABLE, /^\.\/plain: Permission denied$/);
    await expectDaemonError(c.spawnPipe({ argv: ['caller-tool'], environmentPolicy: 'inherit' }), StatusCode.STATUS_CODE_COMMAND_NOT_FOUND, /caller-tool: command not found/);
    // Found through the caller's PATH, which the library sends by default.
    const found = await c.exec({ argv: ['caller-tool'], cwd: work, callerEnv: { PATH: path.join(work, 'bin') } });
    expect(found.output).toBe(`caller-tool in ${fs.realpathSync(work)}\n`);
  });
});

describe('environment_policy on the wire', () => {
  it('SpawnPipe, SpawnPty and SpawnDaemon refuse an unknown policy value, naming it, and start nothing', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const base = { cwd: work, env: [], originator: 'bad-policy' };
    const requests: Array<[RequestType, string, Record<string, unknown>]> = [
      [RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession', { ...base, argv: ['true'], environmentPolicy: 7 }],
      [RequestType.REQUEST_TYPE_SPAWN_PTY_SESSION, 'spawnPtySession', { ...base, argv: ['true'], environmentPolicy: 7 }],
      [RequestType.REQUEST_TYPE_SPAWN_DAEMON, 'spawnDaemon', { ...base, command: 'true', environmentPolicy: 7 }],
    ];
    for (const [type, key, payload] of requests) {
      const r = await c.send(type, key, payload);
      expect(StatusCode[r.code], key).toBe('STATUS_CODE_INVALID_ARGUMENT');
      expect(r.message).toBe('environment_policy must be INHERIT, USER_BASELINE, CLEAR or CALLER, got 7');
    }
    expect(await c.listPipes()).toEqual([]);
    expect(await c.listPtys()).toEqual([]);
    expect(await c.listActive()).toEqual([]);
  });

  it('a reference client\'s INHERIT, USER_BASELINE and CLEAR, and the legacy boolean, mean what the reference proto says', async () => {
    daemon = await startDaemon({ args: ['--env', 'DEFAULTED=1'], env: { DAEMON_ONLY_VAR: 'daemon' } });
    const c = daemon.client;
    const P = pb.EnvironmentPolicy;
    const keysOf = async (fields: Record<string, unknown>) => {
      const r = await c.request(RequestType.REQUEST_TYPE_SPAWN_PIPE_SESSION, 'spawnPipeSession',
        { argv: ['/usr/bin/env', '-0'], cwd: work, env: [{ key: 'MINE', value: '1' }], originator: '', ...fields });
      const text = await waitFor(async () => {
        const b = await c.backlog(r.sessionId);
        return b.exited ? Buffer.from(b.backlog).toString() : null;
      }, 'env output');
      return envLines(text);
    };
    const inherit = await keysOf({ environmentPolicy: P.ENVIRONMENT_POLICY_INHERIT, clearInheritedEnv: true });
    expect([inherit.get('DAEMON_ONLY_VAR'), inherit.get('DEFAULTED'), inherit.get('MINE'), inherit.has('RUNPM_HOME')]).toEqual(['daemon', '1', '1', false]);
    const legacy = await keysOf({ clearInheritedEnv: false });
    expect([legacy.get('DAEMON_ONLY_VAR'), legacy.get('DEFAULTED')]).toEqual(['daemon', '1']);
    const baseline = await keysOf({ environmentPolicy: P.ENVIRONMENT_POLICY_USER_BASELINE });
    expect([baseline.has('DAEMON_ONLY_VAR'), baseline.get('DEFAULTED'), baseline.get('PATH')]).toEqual([false, '1', '/usr/local/bin:/usr/bin:/bin']);
    for (const fields of [{ environmentPolicy: P.ENVIRONMENT_POLICY_CLEAR }, { clearInheritedEnv: true }]) {
      expect([...(await keysOf(fields)).keys()].sort()).toEqual(['MINE', 'RUNNING_PROCESS_ORIGINATOR', 'RUNPM_SESSION_ID', 'RUNPM_SESSION_SCOPE']);
    }
  });
});
