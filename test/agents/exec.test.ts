// runpm exec for agents: bounded head+tail output, background hand-off at the timeout,
// non-interactive environment.
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, runCli, waitFor, isAlive, type TestDaemon } from '../helpers/daemon';
import '../../src/client';

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.stop();
  daemon = null;
});

function seqText(n: number): string {
  let s = '';
  for (let i = 1; i <= n; i++) s += `${i}\n`;
  return s;
}

describe('exec', () => {
  it('returns head and tail of seq 1 1000000 with the exact omitted count', async () => {
    daemon = await startDaemon();
    const result = await daemon.client.exec({ argv: ['seq', '1', '1000000'] });
    const all = seqText(1_000_000);
    expect(result.success).toBe(true);
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.totalBytes).toBe(all.length);
    expect(result.output.startsWith(all.slice(0, 16 * 1024 - 8))).toBe(true);
    expect(result.output.endsWith(all.slice(-16 * 1024 + 8))).toBe(true);
    const marker = /\[\.\.\. (\d+) bytes omitted \.\.\.\]/.exec(result.output);
    expect(marker).not.toBeNull();
    expect(Number(marker![1])).toBe(result.omittedBytes);
    const [head, tail] = result.output.split(/\n?\[\.\.\. \d+ bytes omitted \.\.\.\]\n/);
    expect(head.length + tail.length + result.omittedBytes).toBe(all.length);
    expect(result.wallDurationMs).toBeGreaterThan(0);
  });

  it('hands a command that outlives the timeout over as a running session, readable later', async () => {
    daemon = await startDaemon();
    const result = await daemon.client.exec({ argv: ['sh', '-c', 'echo started; sleep 30'], timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.success).toBe(false);
    expect(result.exitCode).toBeNull();
    expect(result.output).toBe('started\n');
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(isAlive(result.pid)).toBe(true);
    const later = await daemon.client.backlog(result.sessionId, { stream: 'stdout' });
    expect(later.exited).toBe(false);
    const cli = await runCli(['sessions', '--json'], daemon.env);
    expect(cli.stdout).toContain(result.sessionId);
    await daemon.client.terminate(result.sessionId, 100);
    await waitFor(() => !isAlive(result.pid), 'the handed-off command to be terminated');
  });

  it('runs in a non-interactive environment the caller can override', async () => {
    daemon = await startDaemon();
    const result = await daemon.client.exec({
      argv: ['sh', '-c', 'echo "$CI $TERM $NO_COLOR $PAGER $GIT_PAGER $GIT_EDITOR $GIT_TERMINAL_PROMPT"; read x || echo "stdin closed"'],
      env: [{ key: 'PAGER', value: 'less' }],
    });
    expect(result.output).toBe('1 dumb 1 less cat true 0\nstdin closed\n');
  });

  it('gives every session the daemon\'s default environment beneath the request\'s own', async () => {
    daemon = await startDaemon({ args: ['--env', 'GIT_ASKPASS=/usr/local/bin/askpass', '--env', 'TEAM=infra'] });
    const result = await daemon.client.exec({ argv: ['sh', '-c', 'echo "$GIT_ASKPASS $TEAM"'], env: [{ key: 'TEAM', value: 'agents' }] });
    expect(result.output).toBe('/usr/local/bin/askpass agents\n');
    const status = JSON.stringify(await daemon.client.status());
    expect(status).not.toContain('askpass');
  });

  it('takes default environment from --env-from (kept off the command line), --env winning', async () => {
    const { makeTempHome } = await import('../helpers/daemon');
    const dir = makeTempHome();
    const file = `${dir}/defaults.env`;
    require('node:fs').writeFileSync(file, '# credentials\nexport GH_TOKEN="s3cret"\nTEAM=file\n\n');
    try {
      daemon = await startDaemon({ args: ['--env-from', file, '--env', 'TEAM=flag'] });
      const result = await daemon.client.exec({ argv: ['sh', '-c', 'echo "$GH_TOKEN $TEAM"'] });
      expect(result.output).toBe('s3cret flag\n');
      expect(require('node:fs').readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8')).not.toContain('s3cret');
      require('node:fs').writeFileSync(file, 'NOT VALID\n');
      await expect(startDaemon({ args: ['--env-from', file] })).rejects.toThrow(/defaults\.env:1: expected KEY=VALUE/);
      await expect(startDaemon({ args: ['--env-from', `${dir}/missing.env`] })).rejects.toThrow(/cannot read --env-from .*missing\.env: ENOENT/);
    } finally {
      require('node:fs').rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps stderr apart when asked and reports a non-zero exit', async () => {
    daemon = await startDaemon();
    const result = await daemon.client.exec({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 7'], separateStderr: true });
    expect(result).toMatchObject({ success: false, exitCode: 7, output: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('resolves a command that cannot start with the shell\'s status and message', async () => {
    daemon = await startDaemon();
    const result = await daemon.client.exec({ argv: ['/nonexistent/tool'] });
    expect(result).toMatchObject({
      success: false, exitCode: 127, timedOut: false, sessionId: '', pid: 0,
      output: '/nonexistent/tool: No such file or directory\n', startError: '/nonexistent/tool: No such file or directory',
    });
  });

  it('runpm exec prints the output, exits with the code, and --json gives the record', async () => {
    daemon = await startDaemon();
    const plain = await runCli(['exec', '--', 'sh', '-c', 'echo hi; exit 3'], daemon.env);
    expect(plain).toMatchObject({ code: 3, stdout: 'hi\n' });
    const json = await runCli(['--json', 'exec', '--timeout', '5000', '--', 'echo', 'x'], daemon.env);
    expect(JSON.parse(json.stdout)).toMatchObject({ success: true, exitCode: 0, output: 'x\n', truncated: false });
    const bad = await runCli(['exec', '--timeout', 'soon', '--', 'true'], daemon.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--timeout must be a non-negative integer, got "soon"');
  });
});
