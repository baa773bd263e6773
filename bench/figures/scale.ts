// Scale figures: attach with a full 1 MiB backlog → first live byte; ListPipeSessions with 1,000
// live sessions next to 10; daemon RSS per idle session (1,000 of them) and with 100 full rings (next
// to a tmux server with 100 sessions; idle RSS is the core figure's); aggregate ingest of 50 busy
// sessions next to one. One daemon
// per figure run in opts.workDir; every session, tmux server and daemon is gone before it returns.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as os from 'node:os';
import type { BenchFigure, BenchOptions, BenchResult } from '../harness';
import { median, pollUntil, ratioRow, rssMb, summarize } from '../measure';
import { startBenchDaemon, type BenchDaemon } from '../bench-daemon';
import type { DaemonClient } from '../../src/client';

/** The daemon's ring per stream (DaemonConfig.ringBytes default); a "full ring" holds this much. */
const RING_BYTES = 1024 * 1024;

interface Counts {
  backlogRuns: number;
  listCalls: number;
  manySessions: number;
  fullRings: number;
  busySessions: number;
  busyBytesEach: number;
  busyRuns: number;
}

function countsFor(opts: BenchOptions): Counts {
  if (opts.smoke) return { backlogRuns: 1, listCalls: 5, manySessions: 20, fullRings: 4, busySessions: 4, busyBytesEach: 4 << 20, busyRuns: 1 };
  if (opts.quick) return { backlogRuns: 3, listCalls: 30, manySessions: 300, fullRings: 100, busySessions: 50, busyBytesEach: 4 << 20, busyRuns: 2 };
  return { backlogRuns: 7, listCalls: 100, manySessions: 1000, fullRings: 100, busySessions: 50, busyBytesEach: 8 << 20, busyRuns: 5 };
}

/** Node one-liner: writes `bytes` bytes, then one byte per millisecond until killed. */
const TICKER_SOURCE = `
const n = Number(process.argv[1]);
process.stdout.write(Buffer.alloc(n, 0x61), () => setInterval(() => process.stdout.write('x'), 1));`;

/** Attaches to a session whose ring is full and times attach → the first live bytes frame. */
async function backlogToLiveMs(client: DaemonClient): Promise<{ ms: number; backlog: number }> {
  const { sessionId } = await client.spawnPipe({ argv: [process.execPath, '-e', TICKER_SOURCE, String(RING_BYTES + 4096)] });
  await pollUntil(async () => (await client.backlog(sessionId)).backlog.length >= RING_BYTES, 'the session ring to fill', 30_000, 20);
  const t0 = process.hrtime.bigint();
  const att = await client.attachPipe(sessionId);
  let ms = NaN;
  for await (const f of att) {
    if (f.kind === 'bytes') {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      break;
    }
    if (f.kind !== 'missed') break;
  }
  await client.terminate(sessionId, 200);
  await pollUntil(async () => (await client.listPipes()).every((s) => s.exited), 'the ticker to exit', 10_000);
  await client.purge();
  return { ms, backlog: att.backlog.length };
}

/** Median ms of `calls` sequential LIST_PIPE_SESSIONS, checking the count. */
async function timeList(client: DaemonClient, calls: number, expected: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    const rows = await client.listPipes();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (rows.length !== expected) throw new Error(`LIST_PIPE_SESSIONS returned ${rows.length} sessions, expected ${expected}`);
  }
  return median(times);
}

async function spawnIdle(client: DaemonClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await client.spawnPipe({ argv: ['sleep', '600'] });
}

/** SIGKILLs every session (grace 1 ms), waits until all exited, purges. */
async function clearSessions(client: DaemonClient): Promise<void> {
  await client.bulkTerminate({ graceMs: 1 });
  await pollUntil(async () => (await client.listPipes()).every((s) => s.exited), 'every session to exit', 30_000, 50);
  await client.purge();
}

/** Daemon RSS in MB after a settle: a GC-free moment is not guaranteed, so the lowest of a few reads. */
async function settledRss(pid: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 150));
    reads.push(rssMb(pid));
  }
  return Math.min(...reads);
}

/** A tmux server (own socket) with n sessions of `cmd`; its RSS in MB, or a note when tmux is missing. */
function tmuxRss(workDir: string, n: number, cmd: string): { mb: number } | { note: string } {
  const which = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) return { note: 'tmux not installed: peer not measured' };
  const sock = path.join(workDir, 'tmux.sock');
  const tmux = (...args: string[]) => spawnSync('tmux', ['-S', sock, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  try {
    for (let i = 0; i < n; i++) {
      const r = tmux('new-session', '-d', '-s', `s${i}`, '-x', '200', '-y', '50', cmd);
      if (r.status !== 0) return { note: `tmux new-session failed: ${r.stderr.trim()}` };
    }
    // Let every pane read its command's output.
    spawnSync('sleep', ['1']);
    const pid = Number(tmux('display-message', '-p', '#{pid}').stdout.trim());
    return { mb: rssMb(pid) };
  } finally {
    tmux('kill-server');
  }
}

/** A producer of `bytes` bytes of output (rounded down to whole units), as the argv of a pipe session. */
interface Producer {
  id: string;
  label: string;
  /** It writes whole units of this many bytes. */
  unitBytes: number;
  argv(bytes: number): string[];
  /** The row's target, or why it has none. */
  target: { target: string } | { note: string };
}

/** One 60-byte line, as a build or a test runner prints them. */
const LOG_LINE_BYTES = 60;

/** CPU-bound: mawk formats every line (~330 MiB/s on one core here), as a busy program's output is. */
const LOG_PRODUCER: Producer = {
  id: 'scale.busy_aggregate',
  label: 'awk printing numbered 60-byte log lines',
  unitBytes: LOG_LINE_BYTES,
  argv: (bytes) => ['awk', '-v', `n=${bytes / LOG_LINE_BYTES}`,
    'BEGIN { for (i = 0; i < n; i++) printf "%010d %s\\n", i, "build: compiling module 0123456789 abcdefghij kl" }'],
  target: { target: '>= 0.8x' },
};

/** Copy-bound: the child costs about what the daemon's read costs, so one session already keeps both cores busy. */
const ZERO_PRODUCER: Producer = {
  id: 'scale.busy_aggregate_copy_bound',
  label: '`head -c N /dev/zero`',
  unitBytes: 1,
  argv: (bytes) => ['sh', '-c', 'exec head -c "$0" /dev/zero', String(bytes)],
  target: { note: 'no target: the child costs about what the daemon spends per byte, so one session already keeps two cores busy and the ratio cannot pass 0.5x (many sessions ingesting at one session\'s rate)' },
};

/** Ingest MiB/s of `sessions` gated producers of `bytesEach` bytes: "go" to every session, until all exited. */
async function ingestMiBs(client: DaemonClient, producer: Producer, sessions: number, bytesEach: number): Promise<number> {
  const ids: string[] = [];
  const bytes = Math.floor(bytesEach / producer.unitBytes) * producer.unitBytes;
  for (let i = 0; i < sessions; i++) {
    const [program, ...args] = producer.argv(bytes);
    // The shell waits for "go" on stdin, then becomes the producer.
    const gated = ['sh', '-c', 'read go; exec "$@"', 'gate', program!, ...args];
    const { sessionId } = await client.spawnPipe({ argv: gated });
    ids.push(sessionId);
  }
  // The end is the last producer's session.exited event: polling LIST every few ms cost the daemon
  // more with 50 sessions than with one, on the very thread being measured.
  const pending = new Set(ids);
  const events = await client.subscribeEvents({ kinds: ['session.exited'] });
  const allExited = (async () => {
    for await (const e of events) if (pending.delete(e.sessionId) && pending.size === 0) return;
    throw new Error(`the event stream ended with ${pending.size} producers still running`);
  })();
  const t0 = process.hrtime.bigint();
  await Promise.all(ids.map((id) => client.writeStdin(id, 'go\n')));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([allExited, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`producers still running after 120 s: ${pending.size}`)), 120_000);
    })]);
  } finally {
    clearTimeout(timer);
    events.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const failed = (await client.listPipes()).filter((s) => s.exitCode !== null && s.exitCode !== 0);
  await client.purge();
  if (failed.length > 0) throw new Error(`${failed.length} busy sessions failed (first: ${failed[0]!.command} exited ${failed[0]!.exitCode})`);
  return (sessions * bytes) / (1024 * 1024) / secs;
}

/** Many busy sessions next to one, in alternating runs, as one row. */
async function busyAggregateRow(client: DaemonClient, c: Counts, producer: Producer): Promise<BenchResult> {
  const cores = os.cpus().length;
  const single: number[] = [];
  const many: number[] = [];
  const totalBytes = c.busySessions * c.busyBytesEach;
  await ingestMiBs(client, producer, 1, totalBytes / 4); // warm-up
  for (let i = 0; i < c.busyRuns; i++) {
    single.push(await ingestMiBs(client, producer, 1, totalBytes / 4));
    many.push(await ingestMiBs(client, producer, c.busySessions, c.busyBytesEach));
  }
  const singleRate = summarize(single).value;
  const baselineNote = `baseline = one busy session (${singleRate.toFixed(0)} MiB/s, ${(totalBytes / 4) >> 20} MiB) × ${cores} cores; the daemon is one thread`;
  return ratioRow({
    id: producer.id,
    label: `aggregate ingest of ${c.busySessions} concurrent busy sessions (${producer.label}, ${c.busyBytesEach >> 20} MiB each)`,
    unit: 'MiB/s', ...summarize(many),
    ...('target' in producer.target ? { target: producer.target.target, note: baselineNote } : { note: `${baselineNote}; ${producer.target.note}` }),
  }, { label: `one busy session × ${cores} cores`, value: singleRate * cores, unit: 'MiB/s' }, null);
}

async function measureBacklog(d: BenchDaemon, c: Counts): Promise<BenchResult> {
  const runs: number[] = [];
  let backlog = 0;
  await backlogToLiveMs(d.client); // warm-up: the first big response of a process is JIT and page faults
  for (let i = 0; i < c.backlogRuns; i++) {
    const r = await backlogToLiveMs(d.client);
    runs.push(r.ms);
    backlog = r.backlog;
  }
  const s = summarize(runs);
  return { id: 'scale.backlog_first_live_byte', label: `attach with a full ${RING_BYTES >> 20} MiB backlog → first live byte`, unit: 'ms',
    ...s, target: '<= 10 ms', met: s.value <= 10, note: `backlog in the attach response: ${backlog} bytes; the child writes a byte every ms` };
}

export const figure: BenchFigure = {
  name: 'scale',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const c = countsFor(opts);
    const rows: BenchResult[] = [];
    const d = await startBenchDaemon(opts.workDir, 'scale');
    const pid = d.proc.pid!;
    try {
      rows.push(await measureBacklog(d, c));

      // ListPipeSessions: 10 idle sessions, then many.
      await spawnIdle(d.client, 10);
      await timeList(d.client, 5, 10);
      const list10 = await timeList(d.client, c.listCalls, 10);
      const tenRss = await settledRss(pid);
      await spawnIdle(d.client, c.manySessions - 10);
      const manyRss = await settledRss(pid);
      const listMany = await timeList(d.client, c.listCalls, c.manySessions);
      const perSession = listMany / list10;
      rows.push({
        ...ratioRow({ id: 'scale.list_many', label: `LIST_PIPE_SESSIONS with ${c.manySessions} live sessions (RPC, median of ${c.listCalls})`, unit: 'ms',
          value: listMany, target: `<= 10 ms, linear (ratio <= ${c.manySessions / 10})`,
          note: 'ratio = time with many / time with 10; linear or better when ratio <= sessions / 10' },
        { label: 'the same with 10 sessions', value: list10, unit: 'ms' }, null),
        met: listMany <= 10 && perSession <= c.manySessions / 10,
      });
      const perIdleKb = ((manyRss - tenRss) * 1024) / (c.manySessions - 10);
      rows.push({ id: 'scale.rss.per_idle_session', label: `daemon RSS per idle session (${c.manySessions} idle sessions, ${manyRss.toFixed(1)} MB in all)`,
        unit: 'KB', value: perIdleKb, target: '<= 100 KB', met: perIdleKb <= 100,
        note: `(RSS with ${c.manySessions} − RSS with 10) / ${c.manySessions - 10}; idle sessions print nothing, so their rings hold 0 bytes (rings grow lazily)` });
      await clearSessions(d.client);

      // 100 sessions with full rings, next to tmux with 100 sessions of the same command.
      // "full" on stderr once stdout's ring is full: polling that tiny ring copies nothing big.
      const fullCmd = `head -c ${RING_BYTES} /dev/zero | tr '\\0' 'x' | fold -w 100; echo full >&2; exec sleep 600`;
      for (let i = 0; i < c.fullRings; i++) await d.client.spawnPipe({ argv: ['sh', '-c', fullCmd] });
      await pollUntil(async () => {
        for (const s of await d.client.listPipes()) if ((await d.client.backlog(s.sessionId, { stream: 'stderr' })).backlog.length === 0) return false;
        return true;
      }, 'every ring to fill', 60_000, 100);
      const fullRss = await settledRss(pid);
      const tmux = tmuxRss(opts.workDir, c.fullRings, fullCmd);
      const fullRow = { id: 'scale.rss.full_rings', label: `daemon RSS with ${c.fullRings} sessions with full 1 MiB rings`, unit: 'MB', value: fullRss,
        note: `rings alone: ${c.fullRings} MiB; the peer is a tmux server with ${c.fullRings} sessions of the same command (tmux keeps 2000 lines of history)` };
      rows.push('mb' in tmux
        ? ratioRow(fullRow, { label: `tmux server, ${c.fullRings} sessions`, value: tmux.mb, unit: 'MB' }, null)
        : { ...fullRow, note: tmux.note });
      await clearSessions(d.client);

      // Aggregate ingest: many busy sessions next to one, for a CPU-bound and a copy-bound child.
      for (const producer of [LOG_PRODUCER, ZERO_PRODUCER]) rows.push(await busyAggregateRow(d.client, c, producer));
      return rows;
    } finally {
      await d.stop();
    }
  },
};
