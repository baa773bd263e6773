// Black-box: every service request type (50–59) with bad input answers the right code with a
// message naming the problem, and changes nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type TestDaemon } from '../helpers/daemon';
import { RequestType, StatusCode } from '../../src/wire/proto';
import { shService } from './helpers';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

async function expectBad(type: RequestType, key: string, payload: unknown, code: StatusCode, text: string): Promise<void> {
  const r = await daemon!.client.send(type, key, payload);
  expect(StatusCode[r.code], `${RequestType[type]} ${JSON.stringify(payload)}: ${r.message}`).toBe(StatusCode[code]);
  expect(r.message).toContain(text);
}

const BAD = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
const MISSING = StatusCode.STATUS_CODE_NOT_FOUND;

describe('bad service requests', () => {
  it('ServiceStart refuses bad configs naming the field', async () => {
    daemon = await startDaemon();
    const T = RequestType.REQUEST_TYPE_SERVICE_START;
    await expectBad(T, 'serviceStart', {}, BAD, 'config is required');
    for (const [name, why] of [
      ['-x', "starts with '-'"], ['.', 'names a directory'], ['..', 'names a directory'], ['a\x01b', 'non-printable'],
      ['a\u200eb', 'non-printable'], ['a/b', "holds '/'"], [' x', 'whitespace'], ['all', "'all' is the target"],
    ]) {
      await expectBad(T, 'serviceStart', { config: { name, cmd: ['true'] } }, BAD, `invalid service name ${JSON.stringify(name)}: `);
      await expectBad(T, 'serviceStart', { config: { name, cmd: ['true'] } }, BAD, why);
    }
    await expectBad(T, 'serviceStart', { config: { name: '', cmd: ['true'] } }, BAD, 'invalid service name ""');
    await expectBad(T, 'serviceStart', { config: { name: 'x'.repeat(65), cmd: ['true'] } }, BAD, 'invalid service name');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: [] } }, BAD, 'cmd must be a non-empty argv');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: [''] } }, BAD, "service 'ok': cmd[0] (the program) must not be empty");
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], cwd: 'relative/dir' } }, BAD, '"relative/dir" must be an absolute path');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], cwd: '/nonexistent/dir' } }, BAD, 'service \'ok\': cwd "/nonexistent/dir" does not exist');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], cwd: '/etc/passwd' } }, BAD, 'service \'ok\': cwd "/etc/passwd" is not a directory');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], cwd: '/tmp\0x' } }, BAD, 'service \'ok\': cwd "/tmp\\u0000x" contains a NUL byte');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], env: { 'A=B': 'x' } } }, BAD, "service 'ok': env key \"A=B\" is invalid");
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], killTimeoutMs: 700_000 } }, BAD, 'kill_timeout_ms');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], logMaxBytes: 10 } }, BAD, 'log_max_bytes');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], logMaxFiles: 1000 } }, BAD, 'log_max_files');
    await expectBad(T, 'serviceStart', { config: { name: 'ok', cmd: ['true'], dependsOn: ['-x'] } }, BAD, 'in depends_on "-x"');
    expect(await daemon.client.listServices()).toEqual([]);
  });

  it('target requests refuse empty, invalid and unknown targets', async () => {
    daemon = await startDaemon();
    await daemon.client.startService(shService('real', 'exec sleep 30'));
    const targeted: Array<[RequestType, string]> = [
      [RequestType.REQUEST_TYPE_SERVICE_STOP, 'serviceStop'],
      [RequestType.REQUEST_TYPE_SERVICE_RESTART, 'serviceRestart'],
      [RequestType.REQUEST_TYPE_SERVICE_DELETE, 'serviceDelete'],
      [RequestType.REQUEST_TYPE_SERVICE_DESCRIBE, 'serviceDescribe'],
    ];
    for (const [type, key] of targeted) {
      await expectBad(type, key, { target: '' }, BAD, type === RequestType.REQUEST_TYPE_SERVICE_DESCRIBE ? 'describe needs one service' : 'target is required');
      await expectBad(type, key, { target: 'ghost' }, MISSING, "no service named 'ghost'");
      await expectBad(type, key, { target: '42' }, MISSING, 'no service with id 42');
      await expectBad(type, key, { target: '-x' }, BAD, 'invalid target "-x"');
    }
    await expectBad(RequestType.REQUEST_TYPE_SERVICE_DESCRIBE, 'serviceDescribe', { target: 'all' }, BAD, 'describe needs one service');
    for (const [type, key] of [[RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs'], [RequestType.REQUEST_TYPE_SERVICE_FLUSH, 'serviceFlush']] as const) {
      await expectBad(type, key, { target: 'ghost' }, MISSING, "no service named 'ghost'");
      await expectBad(type, key, { target: '7' }, MISSING, 'no service with id 7');
    }
    await expectBad(RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs', { lines: 100_000 }, BAD, 'lines must be at most 10000, got 100000');
    await expectBad(RequestType.REQUEST_TYPE_SERVICE_LOGS, 'serviceLogs', { outOnly: true, errOnly: true }, BAD, 'out_only and err_only');
    // A missing payload means the all-default one (as in the reference): refused where that is bad.
    for (const type of [50, 51, 52, 53, 55]) {
      const r = await daemon.client.send(type as RequestType, null, null);
      expect([type, r.code]).toEqual([type, BAD]);
    }
    // The real service was not touched by any of it.
    expect((await daemon.client.listServices()).map((s) => [s.name, s.status === 'stopped'])).toEqual([['real', false]]);
  });

  it('ServiceSave and ServiceResurrect report their file problems', async () => {
    daemon = await startDaemon();
    const file = path.join(daemon.paths.stateDir, 'services.dump.json');
    await expectBad(RequestType.REQUEST_TYPE_SERVICE_RESURRECT, 'serviceResurrect', {}, MISSING, 'no saved snapshot');
    fs.writeFileSync(file, '{"format":"something-else"}');
    await expectBad(RequestType.REQUEST_TYPE_SERVICE_RESURRECT, 'serviceResurrect', {}, BAD, 'not a runpm services snapshot');
    // Save over a bad file works and keeps the bad one as .bak.
    const r = await daemon.client.send(RequestType.REQUEST_TYPE_SERVICE_SAVE, 'serviceSave', {});
    expect(r.code).toBe(StatusCode.STATUS_CODE_OK);
    expect(fs.readFileSync(`${file}.bak`, 'utf8')).toContain('something-else');
    // ServiceList takes no arguments: an empty payload is fine.
    expect((await daemon.client.send(RequestType.REQUEST_TYPE_SERVICE_LIST, 'serviceList', {})).code).toBe(StatusCode.STATUS_CODE_OK);
  });
});
