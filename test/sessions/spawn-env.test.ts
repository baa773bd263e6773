// Unit tests of the spawn environment and checks: policy layering (base, daemon defaults, the
// request's entries last-wins, the daemon's marks), the daemon's own variables kept out, the user
// baseline, the wire policy values, and program lookup worded as bash words its failures.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BASELINE_PATH, buildSpawnEnv, environmentPolicyOf, userBaselineEnv, withoutDaemonVariables,
} from '../../src/sessions/spawn-env';
import { checkArgv, checkCwd, checkEnvEntries, resolveProgram } from '../../src/sessions/spawn-checks';
import { CommandNotExecutableError, CommandNotFoundError, InvalidArgumentError } from '../../src/wire/errors';
import { pb, StatusCode } from '../../src/wire/proto';

const bases = { inherit: { PATH: '/bin', SHARED: 'base', ONLY_INHERITED: '1' }, userBaseline: { HOME: '/home/u', PATH: BASELINE_PATH } };
const defaults = [{ key: 'SHARED', value: 'default' }, { key: 'D', value: '1' }];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

describe('buildSpawnEnv', () => {
  it('inherit: the daemon base, then its defaults, then the entries with the last one winning', () => {
    const env = buildSpawnEnv({ policy: 'inherit', defaults, request: [{ key: 'SHARED', value: 'a' }, { key: 'SHARED', value: 'b' }], bases });
    expect(env).toEqual({ PATH: '/bin', SHARED: 'b', D: '1', ONLY_INHERITED: '1' });
  });

  it('user-baseline starts from the login baseline; caller from nothing; both keep the defaults beneath the entries', () => {
    expect(buildSpawnEnv({ policy: 'user-baseline', defaults, request: [{ key: 'X', value: '1' }], bases }))
      .toEqual({ HOME: '/home/u', PATH: BASELINE_PATH, SHARED: 'default', D: '1', X: '1' });
    expect(buildSpawnEnv({ policy: 'caller', defaults, request: [{ key: 'SHARED', value: 'mine' }], bases }))
      .toEqual({ SHARED: 'mine', D: '1' });
  });

  it('clear keeps only the entries (no daemon defaults) and the marks', () => {
    expect(buildSpawnEnv({ policy: 'clear', defaults, request: [{ key: 'X', value: '1' }], bases, marks: { RUNPM_SESSION_ID: 's' } }))
      .toEqual({ X: '1', RUNPM_SESSION_ID: 's' });
  });

  it('sets the marks last: a caller cannot pose as another session or as a service run', () => {
    const env = buildSpawnEnv({
      policy: 'caller', defaults: [], bases,
      request: [{ key: 'RUNPM_SESSION_ID', value: 'forged' }, { key: 'RUNPM_SERVICE_ID', value: '3' }, { key: 'RUNPM_SERVICE_SCOPE', value: 'x' }, { key: 'RUNPM_HOME', value: '/h' }],
      marks: { RUNPM_SESSION_ID: 'real', RUNNING_PROCESS_ORIGINATOR: '' },
    });
    expect(env).toEqual({ RUNPM_SESSION_ID: 'real', RUNNING_PROCESS_ORIGINATOR: '', RUNPM_HOME: '/h' });
  });

  it('rejects keys with = or NUL and values with NUL, naming them', () => {
    for (const entry of [{ key: 'A=B', value: '' }, { key: '', value: '' }, { key: 'A\0', value: '' }, { key: 'V', value: 'x\0' }]) {
      const err = thrown(() => buildSpawnEnv({ policy: 'inherit', defaults: [], request: [entry], bases }));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
      expect((err as Error).message).toMatch(entry.key === 'V' ? /env value of "V" contains a NUL byte/ : /env key ".*" is invalid/);
    }
  });
});

describe('the daemon\'s own variables and the user baseline', () => {
  it('leaves RUNPM_* and RUNNING_PROCESS_ORIGINATOR out of what children inherit', () => {
    expect(withoutDaemonVariables({ RUNPM_HOME: '/h', RUNPM_SCOPE: 's', RUNPM_TEST_X: '1', RUNNING_PROCESS_ORIGINATOR: 'o', PATH: '/bin', KEEP: undefined }))
      .toEqual({ PATH: '/bin' });
  });

  it('rebuilds a login environment from the passwd entry, carrying locale, TZ and TMPDIR only', () => {
    const user = os.userInfo();
    const env = userBaselineEnv();
    expect(env).toMatchObject({ USER: user.username, LOGNAME: user.username, HOME: user.homedir, PATH: BASELINE_PATH });
    expect(env.SHELL).toBe(user.shell ?? '/bin/sh');
    for (const key of Object.keys(env)) expect(key).toMatch(/^(USER|LOGNAME|HOME|SHELL|PATH|LANG|LANGUAGE|LC_.*|TZ|TMPDIR)$/);
  });
});

describe('environmentPolicyOf', () => {
  it('maps the wire values; UNSPECIFIED follows clear_inherited_env; an explicit value wins over it', () => {
    const P = pb.EnvironmentPolicy;
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_UNSPECIFIED, false)).toBe('inherit');
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_UNSPECIFIED, true)).toBe('clear');
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_INHERIT, true)).toBe('inherit');
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_USER_BASELINE, false)).toBe('user-baseline');
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_CLEAR, false)).toBe('clear');
    expect(environmentPolicyOf(P.ENVIRONMENT_POLICY_CALLER, true)).toBe('caller');
  });

  it('refuses an unknown value, naming it', () => {
    const err = thrown(() => environmentPolicyOf(7, false));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe('environment_policy must be INHERIT, USER_BASELINE, CLEAR or CALLER, got 7');
  });
});

describe('argv and env checks', () => {
  it('names the element that is wrong', () => {
    expect((thrown(() => checkArgv([])) as Error).message).toMatch(/argv must not be empty/);
    expect((thrown(() => checkArgv([''])) as Error).message).toMatch(/argv\[0\] \(the program\) must not be empty/);
    expect((thrown(() => checkArgv(['sh', 'a\0b'])) as Error).message).toBe('argv[1] "a\\u0000b" contains a NUL byte');
    expect((thrown(() => checkArgv(['sh', 5])) as Error).message).toBe('argv[1] must be a string, got 5');
    expect((thrown(() => checkEnvEntries([{ key: 'K', value: 'v' }], { where: "service 'w': " }))) ).toBeNull();
    expect((thrown(() => checkEnvEntries([{ key: 'A=B', value: 'v' }], { where: "service 'w': " })) as Error).message).toMatch(/^service 'w': env key "A=B"/);
  });
});

describe('checkCwd', () => {
  it('refuses a missing directory, a file, and a path no process can use, naming it', () => {
    expect((thrown(() => checkCwd('/no/such/dir')) as Error).message).toBe('cwd "/no/such/dir" does not exist');
    expect((thrown(() => checkCwd('/etc/passwd')) as Error).message).toBe('cwd "/etc/passwd" is not a directory');
    const err = thrown(() => checkCwd(`/${'z'.repeat(5000)}`));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^cwd "\/z{79}\.\.\." cannot be used: ENAMETOOLONG$/);
  });
});

describe('resolveProgram', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-resolve-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'plain'), 'data', { mode: 0o644 });
  fs.mkdirSync(path.join(bin, 'adir'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds a bare name on PATH (an empty entry or a relative one is the cwd) and a relative path from the cwd', () => {
    expect(resolveProgram('tool', '/', bin).file).toBe(path.join(bin, 'tool'));
    expect(resolveProgram('tool', bin, '/nonexistent:').file).toBe(path.join(bin, 'tool'));
    expect(resolveProgram('tool', dir, 'bin').file).toBe(path.join(bin, 'tool'));
    expect(resolveProgram('./bin/tool', dir, '').file).toBe(path.join(bin, 'tool'));
  });

  it('fails as bash does: 127 not found / no such file, 126 permission denied / is a directory', () => {
    const cases: Array<[string, string, new (...a: never[]) => Error, string]> = [
      ['nope', bin, CommandNotFoundError, 'nope: command not found'],
      ['adir', bin, CommandNotFoundError, 'adir: command not found'],
      ['plain', bin, CommandNotExecutableError, 'plain: Permission denied'],
      ['./nope', bin, CommandNotFoundError, './nope: No such file or directory'],
      ['./plain', bin, CommandNotExecutableError, './plain: Permission denied'],
      ['./adir', bin, CommandNotExecutableError, './adir: Is a directory'],
      ['./plain/x', bin, CommandNotExecutableError, './plain/x: Not a directory'],
      [`./${'a'.repeat(300)}`, bin, CommandNotExecutableError, `./${'a'.repeat(300)}: File name too long`],
    ];
    for (const [program, cwd, cls, message] of cases) {
      const err = thrown(() => resolveProgram(program, cwd, bin));
      expect(err, program).toBeInstanceOf(cls);
      expect((err as Error).message).toBe(message);
      expect((err as CommandNotFoundError).exitCode).toBe(cls === CommandNotFoundError ? 127 : 126);
    }
  });
});
