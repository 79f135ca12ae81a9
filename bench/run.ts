/**
 * Aegis vs Orthanc, side by side: STOW-RS, WADO-RS (instances and frames) and QIDO-RS throughput,
 * latency and peak memory, measured interleaved in one run (Aegis, Orthanc, Aegis, Orthanc, ...)
 * on fresh servers for every round. `npm run bench`; see bench/README.md for the knobs.
 *
 * Prints a table (median round per set, operation and server) and the Aegis/Orthanc ratios, and
 * writes every round to bench/results/<timestamp>.json. Exits 1 when a server could not be started,
 * when any request failed, and loudly when any retrieved byte differs from what was stored.
 */
import { cpus } from 'node:os';
import { generateSet, SET_NAMES, warmupInstances, type BenchSet, type SetName } from './lib/dataset.js';
import { framesPass, qidoPass, qidoQueries, stowPass, wadoPass, type PassResult } from './lib/operations.js';
import { SERVER_KINDS, startServer, type BenchServer, type ServerKind } from './lib/servers.js';
import { stopPlacementServers } from './lib/placements.js';
import { writeResults } from './lib/results.js';
import { fmt, medianBy, table } from './lib/stats.js';

interface Settings {
  scale: number;
  sets: SetName[];
  servers: ServerKind[];
  rounds: number;
  concurrency: number;
  batchSize: number;
  qidoRequests: number;
  multiframeFrames: number;
  wadoMinRequests: number;
  wadoMaxMB: number;
}

function readSettings(): Settings {
  const env = process.env;
  const num = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return v;
  };
  const list = <T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] => {
    const raw = env[name];
    if (!raw) return [...fallback];
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`${name}: unknown ${JSON.stringify(item)} (one of ${allowed.join(', ')})`);
    return items as T[];
  };
  return {
    scale: num('BENCH_SCALE', 1, 0.001),
    sets: list('BENCH_SETS', SET_NAMES, SET_NAMES),
    servers: list<ServerKind>('BENCH_SERVERS', SERVER_KINDS, SERVER_KINDS),
    rounds: Math.floor(num('BENCH_ROUNDS', 3, 1)),
    concurrency: Math.floor(num('BENCH_CONCURRENCY', 4, 1)),
    batchSize: Math.floor(num('BENCH_BATCH', 10, 2)),
    qidoRequests: Math.floor(num('BENCH_QIDO_REQUESTS', 100, 1)),
    multiframeFrames: Math.floor(num('BENCH_MF_FRAMES', 20, 1)),
    wadoMinRequests: Math.floor(num('BENCH_WADO_MIN_REQUESTS', 24, 1)),
    wadoMaxMB: num('BENCH_WADO_MAX_MB', 256, 1),
  };
}

/** One measured pass of one round. */
interface RoundResult extends PassResult {
  set: SetName;
  op: string;
  server: ServerKind;
  round: number;
  /** Peak summed RSS of the whole server right after this pass (since the server started; `lib/rss-sampler.ts`). */
  peakRssBytes: number;
  /** CPU time the server used during the pass (all processes and threads), in milliseconds. */
  serverCpuMs: number;
  /** After a STOW pass: bytes the server stored over bytes it received (warm-up included). */
  overhead?: number;
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const perSecond = (r: PassResult): number => (r.wallMs > 0 ? r.items / (r.wallMs / 1000) : NaN);
const mbPerSecond = (r: PassResult): number => (r.wallMs > 0 ? r.bytes / 1e6 / (r.wallMs / 1000) : NaN);
/** MB per CPU-second of the server: what one core of it processes per second at full load. */
const mbPerCoreSecond = (r: RoundResult): number => (r.serverCpuMs > 0 ? r.bytes / 1e6 / (r.serverCpuMs / 1000) : NaN);

async function withServer(kind: ServerKind, fn: (s: BenchServer) => Promise<void>): Promise<void> {
  const server = await startServer(kind);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** The passes of one round on one server kind, each on fresh servers. */
async function runRound(kind: ServerKind, set: BenchSet, round: number, s: Settings, out: RoundResult[]): Promise<void> {
  const record = async (server: BenchServer, op: string, pass: () => Promise<PassResult>): Promise<void> => {
    const cpuBefore = server.cpuMs();
    const r = await pass();
    const result: RoundResult = { ...r, set: set.name, op, server: kind, round, peakRssBytes: server.peakRss(), serverCpuMs: server.cpuMs() - cpuBefore };
    out.push(result);
    const bad = r.errors + r.mismatches > 0 ? `  ERRORS ${r.errors} MISMATCHES ${r.mismatches}: ${r.samples[0] ?? ''}` : '';
    log(
      `  [${set.name} r${round} ${kind.padEnd(7)}] ${op.padEnd(15)} ${fmt(perSecond(r)).padStart(8)}/s ${fmt(mbPerSecond(r)).padStart(7)} MB/s ` +
        `${fmt(mbPerCoreSecond(result)).padStart(7)} MB/core-s  p50 ${fmt(r.p50Ms)} ms  rss ${fmt(result.peakRssBytes / 1e6)} MB${bad}`,
    );
  };
  await withServer(kind, async (server) => {
    const warm = warmupInstances();
    const w1 = await stowPass(server, warm, 1, s.concurrency);
    const w2 = await wadoPass(server, warm, s.concurrency);
    if (w1.errors + w2.errors + w1.mismatches + w2.mismatches > 0) log(`  warm-up on ${kind} failed: ${[...w1.samples, ...w2.samples][0]}`);
    await record(server, 'stow-1', () => stowPass(server, set.instances, 1, s.concurrency));
    const received = [...warm, ...set.instances].reduce((n, i) => n + i.bytes.length, 0);
    out[out.length - 1].overhead = await server.overhead(received);
    // Small sets are read several times (bounded by bytes) so that one slow request does not decide.
    const passes = Math.max(1, Math.min(Math.ceil(s.wadoMinRequests / set.instances.length), Math.floor((s.wadoMaxMB * 1e6) / set.totalBytes)));
    const reads = Array.from({ length: passes }, () => set.instances).flat();
    await record(server, 'wado-instance', () => wadoPass(server, reads, s.concurrency));
    if (set.name === 'ct512') {
      await record(server, 'wado-frame', () =>
        framesPass(
          server,
          set.instances.map((instance) => ({ instance, frame: 1 })),
          s.concurrency,
        ),
      );
    } else if (set.name === 'multiframe') {
      const inst = set.instances[0]!;
      const n = Math.min(inst.frames, s.multiframeFrames);
      const frames = Array.from({ length: n }, (_, i) => ({ instance: inst, frame: 1 + Math.floor((i * inst.frames) / n) }));
      await record(server, 'wado-frame', () => framesPass(server, frames, s.concurrency));
    }
    const q = qidoQueries(set);
    await record(server, 'qido-studies', () => qidoPass(server, q.studies, s.qidoRequests, s.concurrency));
    await record(server, 'qido-instances', () => qidoPass(server, q.instances, s.qidoRequests, s.concurrency));
  });
  if (set.name === 'ct512') {
    await withServer(kind, (server) => record(server, `stow-${s.batchSize}`, () => stowPass(server, set.instances, s.batchSize, s.concurrency)));
  }
}

interface SummaryRow {
  set: SetName;
  op: string;
  server: ServerKind;
  rounds: number;
  medianRound: number;
  itemsPerSecond: number;
  mbPerSecond: number;
  mbPerCoreSecond: number;
  p50Ms: number;
  p95Ms: number;
  peakRssMB: number;
  errors: number;
  mismatches: number;
}

function summarize(results: RoundResult[]): SummaryRow[] {
  const groups = new Map<string, RoundResult[]>();
  for (const r of results) {
    const key = `${r.set}\u0000${r.op}\u0000${r.server}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const m = medianBy(rs, perSecond);
    return {
      set: m.set,
      op: m.op,
      server: m.server,
      rounds: rs.length,
      medianRound: m.round,
      itemsPerSecond: perSecond(m),
      mbPerSecond: mbPerSecond(m),
      mbPerCoreSecond: mbPerCoreSecond(m),
      p50Ms: m.p50Ms,
      p95Ms: m.p95Ms,
      peakRssMB: m.peakRssBytes / 1e6,
      errors: rs.reduce((n, r) => n + r.errors, 0),
      mismatches: rs.reduce((n, r) => n + r.mismatches, 0),
    };
  });
}

interface RatioRow {
  set: SetName;
  op: string;
  throughput: number;
  rss: number;
}

function ratios(rows: SummaryRow[], baseline: ServerKind = 'orthanc', subject: ServerKind = 'aegis'): RatioRow[] {
  const out: RatioRow[] = [];
  for (const a of rows.filter((r) => r.server === subject)) {
    const o = rows.find((r) => r.server === baseline && r.set === a.set && r.op === a.op);
    if (o) out.push({ set: a.set, op: a.op, throughput: a.itemsPerSecond / o.itemsPerSecond, rss: a.peakRssMB / o.peakRssMB });
  }
  return out;
}

async function main(): Promise<void> {
  const s = readSettings();
  const startedAt = new Date();
  log(`bench: sets ${s.sets.join(',')} scale ${s.scale} servers ${s.servers.join(',')} rounds ${s.rounds} concurrency ${s.concurrency} on ${cpus().length} CPUs`);
  const results: RoundResult[] = [];
  const problems: string[] = [];
  const unavailable = new Set<ServerKind>();
  const setInfo: Array<{ name: SetName; instances: number; totalBytes: number; generateMs: number }> = [];

  for (const name of s.sets) {
    const t0 = performance.now();
    const set = generateSet(name, s.scale);
    const generateMs = performance.now() - t0;
    setInfo.push({ name, instances: set.instances.length, totalBytes: set.totalBytes, generateMs });
    log(`\n${name}: ${set.instances.length} instance(s), ${fmt(set.totalBytes / 1e6)} MB, generated in ${fmt(generateMs, 0)} ms`);
    for (let round = 1; round <= s.rounds; round++) {
      for (const kind of s.servers) {
        if (unavailable.has(kind)) continue;
        try {
          await runRound(kind, set, round, s, results);
        } catch (err) {
          const message = `${kind} failed in ${name} round ${round}: ${(err as Error).message.split('\n').slice(0, 6).join('\n')}`;
          problems.push(message);
          log(`  !! ${message}`);
          if (/did not start|exited with|before listening|not found|not installed|ENOENT|Cannot find module/i.test((err as Error).message)) {
            unavailable.add(kind);
            log(`  !! ${kind} is unavailable: skipping it for the rest of the run`);
          }
        }
      }
    }
  }

  const summary = summarize(results);
  const ratioRows = ratios(summary);
  const protectionRows = ratios(summary, 'aegis-unprotected');
  // Reads and searches only: in proxy mode STOW-RS went straight into the upstream.
  const proxyRows = ratios(summary, 'orthanc', 'aegis-proxy').filter((r) => !r.op.startsWith('stow'));
  const header = ['set', 'operation', 'server', 'instances/s', 'MB/s', 'MB/core-s', 'p50 ms', 'p95 ms', 'peak RSS MB', 'errors'];
  const rows = summary.map((r) => [r.set, r.op, r.server, fmt(r.itemsPerSecond), fmt(r.mbPerSecond), fmt(r.mbPerCoreSecond), fmt(r.p50Ms), fmt(r.p95Ms), fmt(r.peakRssMB), String(r.errors + r.mismatches)]);
  process.stdout.write(`\nMedian round of ${s.rounds} per set, operation and server (concurrency ${s.concurrency}, scale ${s.scale}):\n\n${table(header, rows)}\n`);
  if (ratioRows.length > 0) {
    process.stdout.write(`\nAegis / Orthanc (throughput > 1: Aegis faster; RSS > 1: Aegis uses more memory):\n\n`);
    process.stdout.write(
      `${table(
        ['set', 'operation', 'throughput', 'peak RSS'],
        ratioRows.map((r) => [r.set, r.op, `${fmt(r.throughput, 2)}x`, `${fmt(r.rss, 2)}x`]),
        2,
      )}\n`,
    );
  }

  if (protectionRows.length > 0) {
    process.stdout.write(`\nAegis protected (hardened) / Aegis unprotected (protection.mode none): the cost of the protection:\n\n`);
    process.stdout.write(
      `${table(
        ['set', 'operation', 'throughput', 'peak RSS'],
        protectionRows.map((r) => [r.set, r.op, `${fmt(r.throughput, 2)}x`, `${fmt(r.rss, 2)}x`]),
        2,
      )}\n`,
    );
  }

  if (proxyRows.length > 0) {
    process.stdout.write(`\nAegis in proxy mode / Orthanc direct (target: throughput at least 0.91x, i.e. at most 10 % more time):\n\n`);
    process.stdout.write(
      `${table(
        ['set', 'operation', 'throughput', 'extra time', 'peak RSS'],
        proxyRows.map((r) => [r.set, r.op, `${fmt(r.throughput, 2)}x`, `${fmt((1 / r.throughput - 1) * 100, 1)} %`, `${fmt(r.rss, 2)}x`]),
        2,
      )}\n`,
    );
  }

  const mismatches = summary.reduce((n, r) => n + r.mismatches, 0);
  const errors = summary.reduce((n, r) => n + r.errors, 0);
  if (mismatches > 0) {
    const where = summary.filter((r) => r.mismatches > 0).map((r) => `${r.server} ${r.set} ${r.op}: ${r.mismatches}`);
    process.stdout.write(`\n${'!'.repeat(78)}\n!! BYTE MISMATCHES: ${mismatches} retrieved object(s) differ from what was stored\n!! ${where.join('\n!! ')}\n${'!'.repeat(78)}\n`);
  }
  if (errors > 0) process.stdout.write(`\n${errors} failed request(s); see the JSON file for samples.\n`);
  process.stdout.write(placementNote(summary, results));
  for (const p of problems) process.stdout.write(`\nproblem: ${p}\n`);

  const finishedAt = new Date();
  const file = await writeResults('', startedAt, finishedAt, {
    settings: s,
    sets: setInfo,
    summary,
    ratios: ratioRows,
    protectionRatios: protectionRows,
    rounds: results,
    problems,
  });
  process.stdout.write(`\nresults: ${file} (${fmt((finishedAt.getTime() - startedAt.getTime()) / 1000, 0)} s)\n`);
  if (mismatches > 0 || errors > 0 || problems.length > 0) process.exitCode = 1;
}

/**
 * The closing note: per placement (server kind), STOW and WADO throughput of the median round and
 * the storage overhead ratio (bytes stored / bytes received) measured after each STOW pass.
 */
function placementNote(summary: SummaryRow[], results: RoundResult[]): string {
  const kinds = [...new Set(summary.map((r) => r.server))];
  if (kinds.length === 0) return '';
  const rows = kinds.flatMap((kind) =>
    [...new Set(summary.filter((r) => r.server === kind).map((r) => r.set))].map((set) => {
      const mb = (op: string) => summary.find((r) => r.server === kind && r.set === set && r.op === op)?.mbPerSecond ?? NaN;
      const ratios = results.filter((r) => r.server === kind && r.set === set && r.overhead !== undefined).map((r) => r.overhead!);
      const overhead = ratios.length > 0 ? ratios.sort((a, b) => a - b)[Math.floor((ratios.length - 1) / 2)] : NaN;
      return [kind, set, fmt(mb('stow-1')), fmt(mb('wado-instance')), `${fmt(overhead, 3)}x`];
    }),
  );
  return `\nPer placement: throughput (MB/s, median round) and storage overhead (bytes stored / bytes received):\n\n${table(['server', 'set', 'stow-1 MB/s', 'wado-instance MB/s', 'stored / received'], rows, 2)}\n`;
}

try {
  await main();
} finally {
  await stopPlacementServers();
}
