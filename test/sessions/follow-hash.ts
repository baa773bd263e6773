// The issue-15 check a script would make: `runpm output ID --follow | sha256sum` of a 50 MB cat
// equals the file's hash. Shared by the lossless-flow test (3 runs) and the soak (10 runs).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { RUNPM, makeTempHome, waitFor, type TestDaemon } from '../helpers/daemon';
import '../../src/client/sessions-api';

/** Runs the check `runs` times against daemon; returns how long each run took, ms. */
export async function followHashRuns(daemon: TestDaemon, runs: number, bytes = 50 * 1024 * 1024): Promise<number[]> {
  const c = daemon.client;
  const dir = makeTempHome('rp-50mb-');
  const times: number[] = [];
  try {
    const file = path.join(dir, 'data');
    const data = randomBytes(bytes);
    fs.writeFileSync(file, data);
    const want = createHash('sha256').update(data).digest('hex');
    for (let run = 0; run < runs; run++) {
      // The child waits for a line on stdin, sent once the follower is attached (no sleep as a gate).
      const { sessionId } = await c.spawnPipe({ argv: ['sh', '-c', `read go; exec cat ${file}`] });
      const follower = spawn('sh', ['-c', `"${RUNPM}" output ${sessionId} --follow | sha256sum`], { env: daemon.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      follower.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      follower.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const done = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
      try {
        await waitFor(async () => (await c.listPipes()).find((r) => r.sessionId === sessionId)?.stdoutAttached, 'the follower to attach', 20_000);
        const t0 = Date.now();
        await c.writeStdin(sessionId, 'go\n');
        expect(await done).toBe(0);
        times.push(Date.now() - t0);
      } finally {
        follower.kill('SIGKILL');
      }
      expect({ run, hash: out.split(' ')[0], stderr: err }).toEqual({ run, hash: want, stderr: '' });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return times;
}
