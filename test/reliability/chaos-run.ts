// The daemon-SIGKILL chaos runner shared by the CI test (one round) and the soak (many): one scope
// home lives through every kill. Each round kills the daemon once at each of the moments issue 21
// names: during a session spawn, a spawn-daemon, a service start or restart, a ServiceSave and a log rotation (a
// crash point: the daemon SIGKILLs itself between the two steps a crash must not separate), and
// with a client attached to a stream, and in the middle of a flood of connections that send 3 bytes
// of a length prefix and nothing more, more of them than the connection limit (SIGKILL from
// outside; a fresh client must have been served during the flood). Meanwhile everything else goes on:
// sessions and detached children spawned, a service started and one restarted, saves, a numbered writer's log rotating,
// an attached PTY stream. After each kill a fresh daemon checks what it found: no process of the
// scope it does not know, integrity_check ok, every acknowledged thing present once; that daemon
// is SIGKILLed too (at a quiet moment) and the next round goes on. Lives for one test.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { DaemonClient } from '../../src/client/daemon-client';
import '../../src/client/index';
import { startDaemon, waitFor, type TestDaemon } from '../helpers/daemon';
import { stagedFiles } from '../../src/services/log-rotation';
import { integrityOf, killMarker, logLines, numberedLogLines, processesWithMarker, unknownProcesses } from './crash-helpers';

export const CHAOS_MOMENTS = ['session-spawned', 'detached-spawned', 'service-spawned', 'save-temp-written', 'log-rotated', 'attached-stream', 'half-frame-flood'] as const;
export type ChaosMoment = (typeof CHAOS_MOMENTS)[number];

export interface ChaosFigures {
  rounds: number;
  /** Daemon SIGKILLs per moment (the checking daemons' own kills not counted). */
  kills: Record<ChaosMoment, number>;
  checkDaemonKills: number;
  /** Armed daemons that reached their crash point while starting (a rotation of what the pipe held, a restart), before answering. */
  killedWhileStarting: number;
  /** Sessions whose spawn was acknowledged; each must be reported lost exactly once. */
  sessionsAcked: number;
  sessionsNotReportedOnce: string[];
  /** SPAWN_DAEMON children acknowledged; each must be listed in the registry once at the check. */
  detachedAcked: number;
  detachedErrors: string[];
  servicesStartedAcked: number;
  restartsAcked: number;
  /** Services listed after a check that should not be, or missing, or listed twice. */
  serviceListErrors: string[];
  /** Most top-level runs of one service seen at a check. */
  maxRunsOfOneService: number;
  savesAcked: number;
  /** After a kill during a save: the snapshot was the last acknowledged one, and no temp file stayed. */
  snapshotChecks: number;
  snapshotErrors: string[];
  /** The numbered writer: lines 1..N all found once, in order, across the rotated files at every check. */
  logLinesVerified: number;
  logErrors: string[];
  numbersPidKept: boolean;
  attachedStreamsEnded: number;
  attachedStreamsHung: number;
  /** Half-frame floods (HALF_FRAME_CONNECTIONS each): a fresh client was served during it, or not (the reason). */
  floodsServed: number;
  floodErrors: string[];
  /** Processes of the scope the checking daemon did not know once its recovery was done (must be empty). */
  unknownProcesses: string[];
  integrityChecks: string[];
}

const LOG_LIMIT = 4096;
/** Connections of one half-frame flood: more than the daemon's default limit of 256. */
export const HALF_FRAME_CONNECTIONS = 300;
const LOG_KEEP = 100;

/** A numbered line every 20 ms (~5 KB/s: a rotation of its 4 KiB log every ~0.8 s; 100 files hold ~80 s). */
function numberedWriter(marker: string): string[] {
  return ['python3', '-c', 'import sys, time\ni = 0\nwhile True:\n    i += 1; sys.stdout.write("%08d %s\\n" % (i, "x" * 90)); sys.stdout.flush(); time.sleep(0.02)', marker];
}

const steady = (marker: string) => ['sh', '-c', `: ${marker}; while :; do sleep 0.1; done`];

/** Top-level processes carrying the marker (a shell's forked child briefly shows the same command line). */
function runsOf(marker: string): number[] {
  const all = processesWithMarker(marker);
  const pids = new Set(all.map((p) => p.pid));
  return all.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}

/** What one armed daemon's drivers acknowledged before it died. */
interface Life {
  sessions: string[];
  /** Pids of acknowledged SPAWN_DAEMON children. */
  detached: number[];
  attachedEnded: Promise<boolean> | null;
  lastSave: string | null;
  /** The service this life started: acknowledged, or only tried (a kill during its start may leave it defined). */
  startedService: string | null;
  triedService: string;
  restarts: number;
  saves: number;
  /** The flood of this life: '' when a fresh client was served during it, else why not. */
  flood: string | null;
}

function emptyLife(life: number): Life {
  return { sessions: [], detached: [], attachedEnded: null, lastSave: null, startedService: null, triedService: `svc-${life}`, restarts: 0, saves: 0, flood: null };
}

/** Runs every workload against d until it dies; resolves with what was acknowledged. */
async function driveUntilDeath(d: TestDaemon, moment: ChaosMoment, life: number, marker: string): Promise<Life> {
  const acked = emptyLife(life);
  let dead = false;
  void d.exited.then(() => (dead = true));
  const loop = async (body: () => Promise<void>) => {
    while (!dead) {
      try {
        await body();
      } catch {
        return; // The daemon died under the call: the point of it.
      }
    }
  };
  const client: DaemonClient = d.client;
  // An attached PTY stream: it must end (not hang) when the daemon dies.
  let ticks = 0;
  try {
    const pty = await client.spawnPty({ argv: ['sh', '-c', `trap '' HUP; : ${marker}; while :; do echo tick; sleep 0.05; done`] });
    acked.sessions.push(pty.sessionId);
    const att = await client.attachPty(pty.sessionId);
    acked.attachedEnded = (async () => {
      for (;;) {
        const f = await att.next().catch(() => null);
        if (!f) return true;
        if (f.kind === 'output') ticks++;
      }
    })();
  } catch {
    // Killed during that spawn (session-spawned:1): nothing attached this life.
  }
  const sessions = loop(async () => {
    // Spawning goes on only until the kill it is for; otherwise a few per life.
    if (moment !== 'session-spawned' && acked.sessions.length >= 6) return void (await new Promise((r) => setTimeout(r, 50)));
    acked.sessions.push((await client.spawnPipe({ argv: ['sh', '-c', `: ${marker}; sleep 600`] })).sessionId);
  });
  const detached = loop(async () => {
    if (moment !== 'detached-spawned' && acked.detached.length >= 2) return void (await new Promise((r) => setTimeout(r, 50)));
    acked.detached.push((await client.spawnDaemon({ command: `: ${marker}-detached; export RP_TEST_MARK=${marker}-detached; sleep 600` })).pid);
  });
  const services = (async () => {
    const name = acked.triedService;
    try {
      await client.startService({ name, cmd: steady(`${marker}-${name}`), minUptimeMs: 50, killTimeoutMs: 300 });
      acked.startedService = name;
    } catch {
      return;
    }
    await loop(async () => {
      await client.restartService('web');
      acked.restarts++;
      await new Promise((r) => setTimeout(r, 50)); // restart pace, not a synchronisation
    });
  })();
  const saves = loop(async () => {
    const saved = await client.saveServices();
    acked.lastSave = fs.readFileSync(saved.snapshotPath, 'utf8');
    acked.saves++;
    await new Promise((r) => setTimeout(r, 30)); // save pace
  });
  if (moment === 'attached-stream') {
    await waitFor(() => dead || ticks >= 3, 'live output on the attached stream', 15_000);
    d.proc.kill('SIGKILL');
  }
  if (moment === 'half-frame-flood') {
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < HALF_FRAME_CONNECTIONS && !dead; i++) sockets.push(await halfPrefix(d.paths.socketPath));
      // A client that connects now, past the limit, must be served: a spawn acknowledged.
      const fresh = await d.connect({ callTimeoutMs: 10_000 });
      try {
        acked.sessions.push((await fresh.spawnPipe({ argv: ['sh', '-c', `: ${marker}; sleep 600`] })).sessionId);
        acked.flood = '';
      } catch (err) {
        acked.flood = (err as Error).message;
      } finally {
        fresh.close();
      }
    } catch (err) {
      acked.flood = `the flood could not be opened: ${(err as Error).message}`;
    }
    d.proc.kill('SIGKILL');
    await waitFor(() => dead, 'the daemon to die during the flood', 30_000);
    for (const s of sockets) s.destroy();
  }
  await waitFor(() => dead, `the daemon to die at ${moment}`, 30_000);
  await Promise.all([sessions, detached, services, saves]);
  return acked;
}

/** A connection that sends 3 bytes of a length prefix and nothing more (the daemon may close it). */
function halfPrefix(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('error', reject);
    s.once('connect', () => {
      s.removeListener('error', reject);
      s.on('error', () => {}); // closed by the daemon (limit, deadline) or by its death
      s.resume();
      s.write(Buffer.from([0, 0, 0]));
      resolve(s);
    });
  });
}

/** The numbered lines of the writer's log files, oldest file first (one consistent snapshot). */
function numberedLines(out: string): number[] {
  return numberedLogLines(out, LOG_KEEP);
}

/** Runs the rounds; returns figures (the caller asserts) and always cleans up. */
export async function runChaos(opts: { rounds: number }): Promise<ChaosFigures> {
  const marker = `rp-chaos-${process.pid}-${Date.now() % 1e6}`;
  const f: ChaosFigures = {
    rounds: 0, kills: Object.fromEntries(CHAOS_MOMENTS.map((m) => [m, 0])) as Record<ChaosMoment, number>, checkDaemonKills: 0, killedWhileStarting: 0,
    sessionsAcked: 0, sessionsNotReportedOnce: [], detachedAcked: 0, detachedErrors: [], servicesStartedAcked: 0, restartsAcked: 0, serviceListErrors: [], maxRunsOfOneService: 0,
    savesAcked: 0, snapshotChecks: 0, snapshotErrors: [], logLinesVerified: 0, logErrors: [], numbersPidKept: true,
    attachedStreamsEnded: 0, attachedStreamsHung: 0, floodsServed: 0, floodErrors: [], unknownProcesses: [], integrityChecks: [],
  };
  let daemon: TestDaemon | null = null;
  let life = 0;
  let stage = 'starting';
  try {
    daemon = await startDaemon({ args: ['--reaper-interval-ms', '0'] });
    const home = daemon.home;
    const out = path.join(daemon.paths.logsDir, 'numbers-out.log');
    const numbers = await daemon.client.startService({ name: 'numbers', cmd: numberedWriter(`${marker}-numbers`), minUptimeMs: 50, logMaxBytes: LOG_LIMIT, logMaxFiles: LOG_KEEP });
    await daemon.client.startService({ name: 'web', cmd: steady(`${marker}-web`), minUptimeMs: 50, killTimeoutMs: 300 });
    let expectedServices = ['numbers', 'web'];
    for (let round = 0; round < opts.rounds; round++) {
      for (const moment of CHAOS_MOMENTS) {
        // The quiet daemon before this one (the first, or the last check) dies first.
        daemon.proc.kill('SIGKILL');
        await daemon.exited;
        daemon.client.close();
        if (life > 0) f.checkDaemonKills++;
        life++;
        // Which occurrence is killed varies by round; a save is killed after at least one was
        // acknowledged in the same life, so the snapshot it must leave intact is known.
        const count = 1 + (round % 3) + (moment === 'save-temp-written' ? 1 : 0);
        const armed = await startDaemon({ home, args: ['--reaper-interval-ms', '0', ...(moment === 'attached-stream' || moment === 'half-frame-flood' ? [] : ['--crash-at', `${moment}:${count}`])] })
          .catch((err: Error) => {
            // Reached its crash point while starting (a rotation of what the log pipe held meanwhile, a restart): killed before it answered.
            if (/runpmd exited early \(null\)/.test(err.message)) {
              f.killedWhileStarting++;
              return null;
            }
            throw err;
          });
        daemon = armed;
        stage = `round ${round}, driving the daemon armed at ${moment}`;
        const acked = armed ? await driveUntilDeath(armed, moment, life, marker) : emptyLife(life);
        armed?.client.close();
        f.kills[moment]++;
        f.sessionsAcked += acked.sessions.length;
        f.detachedAcked += acked.detached.length;
        f.restartsAcked += acked.restarts;
        f.savesAcked += acked.saves;
        if (acked.startedService) {
          f.servicesStartedAcked++;
          expectedServices = [...expectedServices, acked.startedService];
        }
        if (acked.flood === '') f.floodsServed++;
        else if (acked.flood !== null) f.floodErrors.push(`round ${round}: ${acked.flood}`);
        if (acked.attachedEnded) {
          const ended = await Promise.race([acked.attachedEnded, new Promise<false>((r) => setTimeout(() => r(false), 5000))]); // deadline for the stream to end
          if (ended) f.attachedStreamsEnded++;
          else f.attachedStreamsHung++;
        }

        stage = `round ${round}, starting the daemon checking after ${moment}`;
        const check: TestDaemon = await startDaemon({ home, args: ['--reaper-interval-ms', '0'] });
        daemon = check;
        try {
          await checkAfterKill(check, f, { moment, acked, expectedServices, marker, out, numbersPid: numbers.pid });
          // The service of this life goes again (acknowledged deletes: never listed again), keeping the load flat.
          if ((await check.client.listServices()).some((s) => s.name === acked.triedService)) await check.client.deleteService(acked.triedService);
        } catch (err) {
          throw new Error(`round ${round}, the daemon checking after the kill at ${moment}: ${(err as Error).message}; its log:\n${check.stderr().slice(-3000)}`);
        }
        expectedServices = expectedServices.filter((n) => n !== acked.triedService);
      }
      f.rounds++;
    }
    return f;
  } catch (err) {
    throw new Error(`${stage}: ${(err as Error).message}`);
  } finally {
    await daemon?.stop();
    killMarker(marker);
  }
}

interface CheckInput {
  moment: ChaosMoment;
  acked: Life;
  expectedServices: string[];
  marker: string;
  out: string;
  numbersPid: number;
}

/** What the daemon after a kill must find; failures are collected in the figures. */
async function checkAfterKill(d: TestDaemon, f: ChaosFigures, c: CheckInput): Promise<void> {
  const at = `after the kill at ${c.moment}`;
  f.integrityChecks.push(integrityOf(d.paths.dbPath));
  // Recovery stops what the dead daemon's sessions left; give it its deadline, then take what remains.
  let unknown: string[] = [];
  await waitFor(async () => (unknown = await unknownProcesses(d)).length === 0, 'no unknown process', 15_000).catch(() => undefined);
  f.unknownProcesses.push(...unknown.map((u) => `${at}: ${u}`));
  for (const id of c.acked.sessions) {
    const reports = logLines(d.paths.daemonLogPath, new RegExp(`crash recovery: (pipe|pty) session ${id}`)).length;
    if (reports !== 1) f.sessionsNotReportedOnce.push(`${at}: session ${id} reported ${reports}×`);
  }
  // Every acknowledged detached child listed once (unacknowledged ones: unknownProcesses above);
  // then they go (from outside: their rows are dropped at the next start), keeping the load flat.
  const active = (await d.client.listActive()).map((p) => p.pid);
  for (const pid of c.acked.detached) {
    const times = active.filter((p) => p === pid).length;
    if (times !== 1) f.detachedErrors.push(`${at}: detached pid ${pid} listed ${times}×`);
  }
  killMarker(`${c.marker}-detached`);
  // Every acknowledged service once; the one whose start a kill interrupted at most once.
  const listed = (await d.client.listServices()).map((s) => s.name).sort();
  const expected = [...c.expectedServices].sort();
  const withTried = [...c.expectedServices, c.acked.triedService].sort();
  if (JSON.stringify(listed) !== JSON.stringify(expected) && (c.acked.startedService !== null || JSON.stringify(listed) !== JSON.stringify(withTried))) {
    f.serviceListErrors.push(`${at}: listed ${listed.join(',')}, expected ${expected.join(',')}`);
  }
  for (const name of new Set([...c.expectedServices, c.acked.triedService])) {
    const runs = runsOf(`${c.marker}-${name}`).length;
    f.maxRunsOfOneService = Math.max(f.maxRunsOfOneService, runs);
    if (runs > 1) f.serviceListErrors.push(`${at}: ${runs} runs of ${name}`);
  }
  if ((await d.client.describeService('numbers')).pid !== c.numbersPid) f.numbersPidKept = false;
  if (c.moment === 'save-temp-written' && c.acked.saves > 0) {
    f.snapshotChecks++;
    const snapshot = path.join(d.paths.stateDir, 'services.dump.json');
    const now = fs.existsSync(snapshot) ? fs.readFileSync(snapshot, 'utf8') : null;
    if (now !== c.acked.lastSave) f.snapshotErrors.push(`${at}: the snapshot is not the last acknowledged one`);
    const temps = fs.readdirSync(d.paths.stateDir).filter((e) => e.startsWith('services.dump.json.tmp-'));
    if (temps.length > 0) f.snapshotErrors.push(`${at}: temp files left: ${temps.join(', ')}`);
  }
  // The log: the check daemon finished any rotation the kill interrupted, and reads on. Every line
  // from 1 on is there once, in order, up to one the writer printed after this daemon started.
  const startedWith = numberedLines(c.out).at(-1) ?? 0;
  await waitFor(() => (numberedLines(c.out).at(-1) ?? 0) > startedWith + 2, 'the numbered writer logging under the check daemon').catch(() => undefined);
  if (stagedFiles(c.out).length > 0) f.logErrors.push(`${at}: staged files left: ${stagedFiles(c.out).join(', ')}`);
  const lines = numberedLines(c.out);
  const wrong = lines.findIndex((n, i) => n !== lines[0] + i);
  if (wrong !== -1) f.logErrors.push(`${at}: line ${lines[wrong]} where ${lines[0] + wrong} belongs`);
  else if (lines[0] > 1 && lines[0] > f.logLinesVerified + 1) f.logErrors.push(`${at}: lines ${f.logLinesVerified + 1}..${lines[0] - 1} no longer kept (the run outlasted ${LOG_KEEP} files)`);
  else f.logLinesVerified = Math.max(f.logLinesVerified, lines.at(-1) ?? 0);
}

/** One line of figures for the test log. */
export function describeChaos(f: ChaosFigures): string {
  const kills = CHAOS_MOMENTS.map((m) => `${m} ${f.kills[m]}`).join(', ');
  return `chaos: ${f.rounds} round(s); kills ${kills} (${f.killedWhileStarting} while starting; +${f.checkDaemonKills} of checking daemons); ${f.sessionsAcked} sessions acked, `
    + `${f.sessionsNotReportedOnce.length} not reported exactly once; ${f.detachedAcked} detached children acked, ${f.detachedErrors.length} not listed once; ${f.servicesStartedAcked} service starts and ${f.restartsAcked} restarts acked, `
    + `${f.serviceListErrors.length} list errors, most runs of one service ${f.maxRunsOfOneService}; ${f.savesAcked} saves acked, `
    + `${f.snapshotChecks} snapshot checks, ${f.snapshotErrors.length} errors; ${f.logLinesVerified} numbered log lines verified, ${f.logErrors.length} errors; `
    + `attached streams ended ${f.attachedStreamsEnded}, hung ${f.attachedStreamsHung}; half-frame floods of ${HALF_FRAME_CONNECTIONS} with a fresh client served ${f.floodsServed}, not ${f.floodErrors.length}; unknown processes ${f.unknownProcesses.length}; `
    + `integrity ${[...new Set(f.integrityChecks)].join(',')}`;
}
