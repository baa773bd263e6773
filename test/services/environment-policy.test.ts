// Black-box: ServiceConfig.environment_policy picks a run's base environment as it does for
// sessions (INHERIT without the daemon's own RUNPM_ variables, USER_BASELINE, CLEAR, CALLER with
// the daemon defaults beneath); the RUNPM_SERVICE_* marks are set last; a bad value is refused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode, pb } from '../../src/wire/proto';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

/** Starts a service that dumps its environment, and returns it as a map. */
async function runEnvOf(d: TestDaemon, name: string, environmentPolicy: number, env: Record<string, string>): Promise<Map<string, string>> {
  const out = path.join(d.home, `${name}.env`);
  await d.client.startService(shService(name, `/usr/bin/env -0 > ${out}.tmp; mv ${out}.tmp ${out}; exec sleep 30`, { env, environmentPolicy }));
  await waitFor(() => fs.existsSync(out), `${name}'s environment dump`);
  const map = new Map<string, string>();
  for (const line of fs.readFileSync(out, 'utf8').split('\0')) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  map.delete('PWD'); // set by the sh that runs the fixture
  return map;
}

describe('service environment_policy', () => {
  it('builds each run\'s environment from its policy, the daemon defaults, its env, then the marks', async () => {
    daemon = await startDaemon({ args: ['--env', 'DEFAULTED=1'], env: { DAEMON_ONLY_VAR: 'daemon' } });
    const P = pb.EnvironmentPolicy;
    const forged = { OWN: 'yes', RUNPM_SERVICE_ID: '99', RUNPM_SERVICE_NAME: 'forged' };
    const inherit = await runEnvOf(daemon, 'inherit', P.ENVIRONMENT_POLICY_UNSPECIFIED, forged);
    expect([inherit.get('DAEMON_ONLY_VAR'), inherit.get('DEFAULTED'), inherit.get('OWN'), inherit.has('RUNPM_HOME')]).toEqual(['daemon', '1', 'yes', false]);
    expect([inherit.get('RUNPM_SERVICE_NAME'), inherit.get('RUNPM_SERVICE_ID')]).toEqual(['inherit', '0']);
    expect(inherit.get('RUNPM_SERVICE_SCOPE')).toMatch(/\S/);
    const baseline = await runEnvOf(daemon, 'baseline', P.ENVIRONMENT_POLICY_USER_BASELINE, { OWN: 'yes' });
    expect([baseline.has('DAEMON_ONLY_VAR'), baseline.get('PATH'), baseline.get('DEFAULTED'), baseline.get('OWN')]).toEqual([false, '/usr/local/bin:/usr/bin:/bin', '1', 'yes']);
    const clear = await runEnvOf(daemon, 'clear', P.ENVIRONMENT_POLICY_CLEAR, { OWN: 'yes', PATH: '/usr/bin:/bin' });
    expect([...clear.keys()].sort()).toEqual(['NODE_APP_INSTANCE', 'OWN', 'PATH', 'RUNPM_SERVICE_ID', 'RUNPM_SERVICE_NAME', 'RUNPM_SERVICE_RUN', 'RUNPM_SERVICE_SCOPE']);
    const caller = await runEnvOf(daemon, 'caller', P.ENVIRONMENT_POLICY_CALLER, { OWN: 'yes', PATH: '/usr/bin:/bin' });
    expect([...caller.keys()].sort()).toEqual(['DEFAULTED', 'NODE_APP_INSTANCE', 'OWN', 'PATH', 'RUNPM_SERVICE_ID', 'RUNPM_SERVICE_NAME', 'RUNPM_SERVICE_RUN', 'RUNPM_SERVICE_SCOPE']);
    const described = await daemon.client.describeService('clear');
    expect(described.config?.environmentPolicy).toBe(P.ENVIRONMENT_POLICY_CLEAR);
  });

  it('refuses an unknown policy and a NUL in the config\'s env or cmd, naming the service and the value', async () => {
    daemon = await startDaemon();
    const expectBad = async (config: Record<string, unknown>, text: string) => {
      const r = await daemon!.client.send(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', { config });
      expect(StatusCode[r.code]).toBe('STATUS_CODE_INVALID_ARGUMENT');
      expect(r.message).toBe(text);
    };
    await expectBad({ name: 'p', cmd: ['true'], environmentPolicy: 9 }, "service 'p': environment_policy must be INHERIT, USER_BASELINE, CLEAR or CALLER, got 9");
    await expectBad({ name: 'p', cmd: ['true'], env: { K: 'a\0b' } }, "service 'p': env value of \"K\" contains a NUL byte");
    await expectBad({ name: 'p', cmd: ['tr\0ue'] }, "service 'p': cmd[0] \"tr\\u0000ue\" contains a NUL byte");
    expect(await daemon.client.listServices()).toEqual([]);
  });
});
