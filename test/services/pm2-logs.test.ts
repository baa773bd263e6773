// Black-box: pm2's log options (issue 17): out_file / error_file instead of the daemon's files,
// log_file with both streams, time and log_date_format prefixes, /dev/null, and a bad path
// refused at start naming it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { shService, waitStatus } from './helpers';
import { RequestType, StatusCode } from '../../src/wire/proto';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('pm2 log options', () => {
  it('writes out_file, error_file (relative to cwd, directories made) and log_file with both streams', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const dir = daemon.home;
    // Under a regular file no directory can be made: the start fails naming the file.
    fs.writeFileSync(path.join(dir, 'plain'), '');
    const first = await c.startService(shService('bad', 'true', { cwd: dir, outFile: 'plain/o.log' }))
      .then((st) => `${st.status}: ${st.lastError}`, (err: Error) => err.message);
    expect(first).toContain(path.join(dir, 'plain', 'o.log'));
    // A missing directory is made, as pm2 does.
    const ok = await c.startService(shService('app', 'echo one; echo two >&2; echo three', {
      cwd: dir, autorestart: false, outFile: 'logs/o.log', errorFile: 'logs/e.log', logFile: 'logs/all.log',
    }));
    expect([ok.outLogPath, ok.errLogPath, ok.combinedLogPath]).toEqual(['o.log', 'e.log', 'all.log'].map((f) => path.join(dir, 'logs', f)));
    await waitStatus(c, 'app', 'stopped');
    await waitFor(() => read(ok.outLogPath) === 'one\nthree\n' && read(ok.errLogPath) === 'two\n', 'both streams in their files');
    await waitFor(() => read(ok.combinedLogPath).split('\n').filter(Boolean).sort().join(',') === 'one,three,two', 'the combined log');
    expect(await c.serviceLogs({ target: 'app', errOnly: true })).toBe('[app:err] two\n');
    await c.flushServiceLogs('app');
    expect([read(ok.outLogPath), read(ok.errLogPath), read(ok.combinedLogPath)]).toEqual(['', '', '']);
  });

  it('prefixes every line with pm2\'s time format, or log_date_format', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    // A line written in two pieces gets one prefix.
    const timed = await c.startService(shService('timed', "printf 'par'; sleep 0.1; printf 'tial\\nnext\\n'", { autorestart: false, time: true }));
    const fmt = await c.startService(shService('fmt', 'echo hello', { autorestart: false, logDateFormat: 'YYYY/MM/DD [at] HH' }));
    await waitFor(() => read(timed.outLogPath).split('\n').length === 3 && read(fmt.outLogPath) !== '', 'the stamped lines');
    const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /;
    const [l1, l2] = read(timed.outLogPath).split('\n');
    expect(l1).toMatch(stamp);
    expect(l1.replace(stamp, '')).toBe('partial');
    expect(l2.replace(stamp, '')).toBe('next');
    expect(read(fmt.outLogPath)).toMatch(/^\d{4}\/\d\d\/\d\d at \d\d: hello\n$/);
  });

  it("log_type json writes each line as pm2's record (message, timestamp, type, process_id, app_name); a piece of a line too; other types refused", async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const out = path.join(daemon.home, 'out.json.log');
    const combined = path.join(daemon.home, 'all.json.log');
    // Two lines, then a piece of a line the app never ends: nothing held back, nothing lost.
    const svc = await c.startService(shService('j', 'printf \'one two\\nthree\\n\'; echo oops >&2; printf tail; exec sleep 30', {
      logType: 'json', outFile: out, logFile: combined, logDateFormat: 'YYYY',
    }));
    const records = await waitFor(() => {
      const lines = read(combined).split('\n').filter(Boolean);
      return lines.length >= 4 ? lines.map((l) => JSON.parse(l) as Record<string, unknown>) : null;
    }, 'four records in log_file');
    const year = String(new Date().getFullYear());
    expect(records.filter((r) => r.type === 'out').map((r) => r.message)).toEqual(['one two\n', 'three\n', 'tail']);
    expect(records.find((r) => r.type === 'err')).toEqual({ message: 'oops\n', timestamp: year, type: 'err', process_id: svc.id, app_name: 'j' });
    expect(read(out).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['one two\n', 'three\n', 'tail']);
    const r = await c.send(RequestType.REQUEST_TYPE_SERVICE_START, 'serviceStart', { config: { ...shService('k', 'true'), logType: 'xml' } });
    expect(StatusCode[r.code]).toBe(StatusCode[StatusCode.STATUS_CODE_INVALID_ARGUMENT]);
    expect(r.message).toContain('log_type must be "json" (or empty for lines as printed), got "xml"');
  });

  it('discards a stream sent to /dev/null', async () => {
    daemon = await startDaemon();
    const c = daemon.client;
    const s = await c.startService(shService('quiet', 'echo gone; echo kept >&2', { autorestart: false, outFile: '/dev/null' }));
    expect(s.outLogPath).toBe('/dev/null');
    // pm2's other spelling.
    const n = await c.startService(shService('null', 'echo gone', { autorestart: false, outFile: 'NULL', errorFile: 'NULL' }));
    expect([n.outLogPath, n.errLogPath]).toEqual(['/dev/null', '/dev/null']);
    await waitStatus(c, 'null', 'stopped');
    expect(fs.readdirSync(daemon.paths.logsDir).filter((f) => f.startsWith('null-'))).toEqual([]);
    await waitStatus(c, 'quiet', 'stopped');
    await waitFor(() => read(s.errLogPath) === 'kept\n', 'stderr in its file');
    await c.flushServiceLogs('quiet');
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
