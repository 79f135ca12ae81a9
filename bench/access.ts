/**
 * What authentication and authorization add to a request: per-request latency of QIDO and frame
 * requests on one gateway process, without credentials (anonymous admin: no authentication, the
 * policy bypassed) and as a radiologist by HTTP Basic, Bearer access token and API key, with
 * cached credentials (authentication + CASL authorization + the policy's SQL filter / per-study
 * check). `npm run bench:access`; see bench/README.md ("Access control").
 *
 * One data set is stored once through the open path; each round starts a fresh gateway on that
 * data (one process, `server.workers: 1`), warms every mode up (which fills the credential cache),
 * then sends sequential requests (concurrency 1, keep-alive, one socket per mode) in round-robin
 * over the modes (A, B, C, D, A, B, ...) so that drift of the machine hits all modes alike. Prints
 * per operation and mode the median over rounds of p50/p90/p99 and of the per-round difference
 * to open access; writes bench/results/access-<timestamp>.json. Asserts no duration; exits 1 on
 * failed requests or wrong answers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'node:http';
import { startGateway, type RunningGateway } from '../test/support/gateway.js';
import { runAegis } from '../test/support/aegis-cli.js';
import { ACCESS_INSTITUTION, accessSet, type AccessSet, type BenchInstance } from './lib/dataset.js';
import { keepAliveAgent, send, type HttpResult } from './lib/http.js';
import { boundaryOf, parseMultipart } from './lib/multipart.js';
import { ACCEPT_FRAMES, stowPass } from './lib/operations.js';
import { writeResults } from './lib/results.js';
import { fmt, percentile, table } from './lib/stats.js';

const MODES = ['open', 'basic', 'bearer', 'apikey'] as const;
type Mode = (typeof MODES)[number];
const OPERATIONS = ['qido-uid', 'qido-studies', 'frame'] as const;
type Operation = (typeof OPERATIONS)[number];

const MODE_TEXT: Record<Mode, string> = {
  open: 'no credentials (anonymous admin)',
  basic: 'HTTP Basic, radiologist',
  bearer: 'Bearer access token, radiologist',
  apikey: 'API key, radiologist',
};

const USER = 'bench-rad';
const PASSWORD = 'bench-radiologist-password-1';

interface Settings {
  rounds: number;
  requests: number;
  warmup: number;
  instances: number;
  modes: Mode[];
  cacheSeconds: number;
}

function readSettings(): Settings {
  const env = process.env;
  const num = (name: string, fallback: number, min: number, max = Infinity): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return v;
  };
  const modes = (env.BENCH_ACCESS_MODES ?? MODES.join(','))
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of modes) if (!(MODES as readonly string[]).includes(m)) throw new Error(`BENCH_ACCESS_MODES: unknown ${JSON.stringify(m)} (one of ${MODES.join(', ')})`);
  if (!modes.includes('open')) modes.unshift('open'); // the baseline
  return {
    rounds: num('BENCH_ACCESS_ROUNDS', 5, 1),
    requests: num('BENCH_ACCESS_REQUESTS', 1000, 10),
    warmup: num('BENCH_ACCESS_WARMUP', 200, 1),
    instances: num('BENCH_ACCESS_INSTANCES', 50, 1),
    modes: modes as Mode[],
    cacheSeconds: num('BENCH_ACCESS_CACHE_SECONDS', 600, 1, 600),
  };
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const ACCEPT_JSON = 'application/dicom+json';

/** The gateway configuration of every measured round. */
function gatewayConfig(s: Settings): Record<string, unknown> {
  return {
    server: { workers: 1 },
    // Requests without credentials act as admin (mode open); requests with credentials authenticate
    // exactly as on a gateway without anonymous access.
    auth: { anonymous: { role: 'admin' }, bootstrapAdmin: false, credentialCacheSeconds: s.cacheSeconds },
  };
}

/** One request of an operation; `i` picks the instance of a frame request. */
function request(op: Operation, set: AccessSet, i: number): { path: string; accept: string; instance?: BenchInstance } {
  switch (op) {
    case 'qido-uid':
      return { path: `/studies?StudyInstanceUID=${set.study}`, accept: ACCEPT_JSON };
    case 'qido-studies':
      return { path: '/studies?limit=10', accept: ACCEPT_JSON };
    case 'frame': {
      const instance = set.instances[i % set.instances.length]!;
      return { path: `/studies/${instance.study}/series/${instance.series}/instances/${instance.sop}/frames/1`, accept: ACCEPT_FRAMES, instance };
    }
  }
}

/** Why a response is wrong, or undefined when it is right. */
function problem(op: Operation, r: HttpResult, instance?: BenchInstance): string | undefined {
  if (r.status !== 200) return `${op}: HTTP ${r.status} ${r.body.toString('utf8', 0, Math.min(200, r.body.length))}`;
  if (op === 'frame') {
    const boundary = boundaryOf(r.headers['content-type']);
    if (!boundary) return `frame: not multipart/related: ${r.headers['content-type']}`;
    const parts = parseMultipart(r.body, boundary);
    const expected = instance!.bytes.subarray(instance!.pixelOffset, instance!.pixelOffset + instance!.frameBytes);
    return parts.length === 1 && parts[0]!.body.equals(expected) ? undefined : `frame of ${instance!.sop}: ${parts.length} part(s), not the stored pixels`;
  }
  const json = JSON.parse(r.body.toString('utf8')) as unknown;
  return Array.isArray(json) && json.length === 1 ? undefined : `${op}: ${Array.isArray(json) ? json.length : 'no'} results instead of 1`;
}

/** Stores the set through an open gateway, then adds the radiologist and an API key with the CLI. */
async function prepare(dataDir: string, set: AccessSet): Promise<{ apiKey: string }> {
  const g = await startGateway({ dataDir, keepData: true, config: { server: { workers: 1 } } });
  try {
    const server = { kind: 'aegis' as const, dicomWebUrl: g.dicomWebUrl, pid: g.pid, headers: {}, peakRss: () => 0, cpuMs: () => 0, overhead: () => Promise.resolve(NaN), stop: () => g.stop() };
    const stored = await stowPass(server, set.instances, 10, 2);
    if (stored.errors > 0) throw new Error(`storing the data set failed: ${stored.samples.join('; ')}`);
  } finally {
    await g.stop();
  }
  const data = ['--data', dataDir];
  const added = await runAegis(['users', 'add', USER, '--role', 'radiologist', '--attr', `institution=${ACCESS_INSTITUTION}`, '--password-stdin', ...data], { input: `${PASSWORD}\n` });
  if (added.status !== 0) throw new Error(`aegis users add: ${added.stderr}`);
  const key = await runAegis(['apikeys', 'create', USER, '--label', 'bench', ...data]);
  if (key.status !== 0) throw new Error(`aegis apikeys create: ${key.stderr}`);
  return { apiKey: key.stdout.trim() };
}

/** Per-round numbers of one operation in one mode. */
interface Cell {
  round: number;
  op: Operation;
  mode: Mode;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Every latency of the round, ms, in order. */
  latenciesMs: number[];
}

/** The cost of credentials the cache does not hold yet, measured once per fresh gateway. */
interface FirstRequests {
  round: number;
  /** An open QIDO request right before, for comparison. */
  openMs: number;
  /** The first Basic request: argon2id, the ability built, then the request. */
  firstBasicMs: number;
  /** The median of the next five, from the cache. */
  nextBasicMs: number;
  /** POST /auth/token (password grant: argon2id every time, never cached). */
  tokenMs: number;
  /** The first API key request (SHA-256 check and catalog lookup). */
  firstApiKeyMs?: number;
}

/** The median (mean of the middle two for an even count) of the finite values; NaN for none. */
const median = (values: number[]): number => {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

async function round(n: number, dataDir: string, set: AccessSet, s: Settings, apiKey: string, cells: Cell[], firsts: FirstRequests[], failures: string[]): Promise<void> {
  const g: RunningGateway = await startGateway({ dataDir, keepData: true, config: gatewayConfig(s) });
  const agents = new Map<Mode, Agent>(s.modes.map((m) => [m, keepAliveAgent(1)]));
  const headers: Partial<Record<Mode, Record<string, string>>> = { open: {} };
  const basic = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
  const get = (mode: Mode, path: string, accept: string) => send(agents.get(mode)!, `${g.dicomWebUrl}${path}`, { headers: { ...headers[mode], accept } });
  const fail = (what: string): void => {
    if (failures.length < 20) failures.push(`round ${n}: ${what}`);
  };
  try {
    // Warm the open path first (JIT, SQLite pages), then the first requests with new credentials.
    for (let i = 0; i < s.warmup; i++) for (const op of OPERATIONS) await get('open', request(op, set, i).path, request(op, set, i).accept);
    const qido = request('qido-uid', set, 0);
    const first: FirstRequests = { round: n, openMs: (await get('open', qido.path, qido.accept)).ms, firstBasicMs: NaN, nextBasicMs: NaN, tokenMs: NaN };
    if (s.modes.includes('basic')) {
      headers.basic = basic;
      const responses: HttpResult[] = [];
      for (let i = 0; i < 6; i++) responses.push(await get('basic', qido.path, qido.accept));
      for (const r of responses) if (problem('qido-uid', r)) fail(`first Basic: ${problem('qido-uid', r)}`);
      first.firstBasicMs = responses[0]!.ms;
      first.nextBasicMs = median(responses.slice(1).map((r) => r.ms));
    }
    const body = Buffer.from(new URLSearchParams({ grant_type: 'password', username: USER, password: PASSWORD }).toString());
    const t = await send(agents.get('open')!, `${g.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: [body] });
    first.tokenMs = t.ms;
    if (t.status !== 200) throw new Error(`POST /auth/token: HTTP ${t.status} ${t.body.toString()}`);
    headers.bearer = { authorization: `Bearer ${(JSON.parse(t.body.toString()) as { access_token: string }).access_token}` };
    if (s.modes.includes('apikey')) {
      headers.apikey = { authorization: `ApiKey ${apiKey}` };
      first.firstApiKeyMs = (await get('apikey', qido.path, qido.accept)).ms;
    }
    firsts.push(first);

    // Warm-up of every mode: fills the credential cache, builds and caches the abilities.
    for (let i = 0; i < s.warmup; i++) {
      for (const op of OPERATIONS) {
        for (const mode of s.modes) {
          const q = request(op, set, i);
          const r = await get(mode, q.path, q.accept);
          const bad = problem(op, r, q.instance);
          if (bad) fail(`warm-up ${mode}: ${bad}`);
        }
      }
    }

    // Measured: per operation, requests in round-robin over the modes.
    for (const op of OPERATIONS) {
      const latencies = new Map<Mode, number[]>(s.modes.map((m) => [m, []]));
      for (let i = 0; i < s.requests; i++) {
        // Rotate the starting mode so no mode always follows the same one.
        for (let k = 0; k < s.modes.length; k++) {
          const mode = s.modes[(i + k) % s.modes.length]!;
          const q = request(op, set, i);
          const r = await get(mode, q.path, q.accept);
          latencies.get(mode)!.push(r.ms);
          const bad = problem(op, r, q.instance);
          if (bad) fail(`${mode}: ${bad}`);
        }
      }
      for (const mode of s.modes) {
        const ms = latencies.get(mode)!;
        cells.push({ round: n, op, mode, requests: ms.length, p50Ms: percentile(ms, 50), p90Ms: percentile(ms, 90), p99Ms: percentile(ms, 99), latenciesMs: ms.map((v) => Math.round(v * 1000) / 1000) });
      }
      const line = s.modes.map((m) => {
        const c = cells.find((x) => x.round === n && x.op === op && x.mode === m)!;
        return `${m} ${fmt(c.p50Ms, 3)}/${fmt(c.p90Ms, 3)}`;
      });
      log(`  [r${n}] ${op.padEnd(12)} p50/p90 ms: ${line.join('  ')}`);
    }
  } finally {
    for (const a of agents.values()) a.destroy();
    await g.stop();
  }
}

interface SummaryRow {
  op: Operation;
  mode: Mode;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Median over rounds of (p50 of this mode - p50 of open) in the same round. */
  addedP50Ms: number;
  addedP90Ms: number;
}

function summarize(cells: Cell[], s: Settings): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const op of OPERATIONS) {
    for (const mode of s.modes) {
      const mine = cells.filter((c) => c.op === op && c.mode === mode);
      const diff = (key: 'p50Ms' | 'p90Ms') => median(mine.map((c) => c[key] - (cells.find((o) => o.op === op && o.mode === 'open' && o.round === c.round)?.[key] ?? NaN)));
      rows.push({
        op,
        mode,
        p50Ms: median(mine.map((c) => c.p50Ms)),
        p90Ms: median(mine.map((c) => c.p90Ms)),
        p99Ms: median(mine.map((c) => c.p99Ms)),
        addedP50Ms: diff('p50Ms'),
        addedP90Ms: diff('p90Ms'),
      });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const s = readSettings();
  const startedAt = new Date();
  log(
    `bench:access: ${s.rounds} round(s), ${s.requests} measured + ${s.warmup} warm-up requests per operation and mode, modes ${s.modes.join(',')}, ${s.instances} instances, credential cache ${s.cacheSeconds} s, 1 gateway worker, ${cpus().length} CPUs`,
  );
  const set = accessSet(s.instances);
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-bench-access-'));
  const cells: Cell[] = [];
  const firsts: FirstRequests[] = [];
  const failures: string[] = [];
  try {
    const { apiKey } = await prepare(dataDir, set);
    log(`stored ${set.instances.length} instances (${fmt(set.totalBytes / 1e6)} MB), user ${USER} (radiologist, institution=${ACCESS_INSTITUTION}) and an API key`);
    for (let n = 1; n <= s.rounds; n++) await round(n, dataDir, set, s, apiKey, cells, firsts, failures);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  const summary = summarize(cells, s);
  const header = ['operation', 'mode', 'p50 ms', 'p90 ms', 'p99 ms', 'added p50 ms', 'added p90 ms'];
  const rows = summary.map((r) => [r.op, r.mode, fmt(r.p50Ms, 3), fmt(r.p90Ms, 3), fmt(r.p99Ms, 3), r.mode === 'open' ? '' : fmt(r.addedP50Ms, 3), r.mode === 'open' ? '' : fmt(r.addedP90Ms, 3)]);
  process.stdout.write(
    `\nPer-request latency, median of ${s.rounds} round(s) of ${s.requests} sequential requests per operation and mode (concurrency 1, keep-alive, 1 worker, cached credentials).\n` +
      `added = median over rounds of (this mode - open) in the same round. Modes: ${s.modes.map((m) => `${m} = ${MODE_TEXT[m]}`).join('; ')}.\n` +
      `qido-uid = /studies?StudyInstanceUID=..., qido-studies = /studies?limit=10, frame = .../frames/1 (256x256x16 bit, octet-stream).\n\n${table(header, rows, 2)}\n`,
  );
  const worst = Math.max(...summary.filter((r) => r.mode !== 'open').map((r) => r.addedP50Ms));
  if (Number.isFinite(worst)) process.stdout.write(`\nauthentication+authorization added at most ${fmt(worst, 3)} ms at p50 (over operations and credential kinds)\n`);
  const firstRows = firsts.map((f) => [String(f.round), fmt(f.openMs, 2), fmt(f.firstBasicMs, 2), fmt(f.nextBasicMs, 2), fmt(f.tokenMs, 2), fmt(f.firstApiKeyMs ?? NaN, 2)]);
  process.stdout.write(`\nUncached credentials, on each fresh gateway (one request each; qido-uid):\n\n${table(['round', 'open ms', '1st Basic ms', 'next 5 Basic, p50 ms', 'POST /auth/token ms', '1st API key ms'], firstRows, 1)}\n`);
  if (failures.length > 0) process.stdout.write(`\n${failures.length} failure(s):\n  ${failures.join('\n  ')}\n`);

  const finishedAt = new Date();
  const file = await writeResults('access-', startedAt, finishedAt, {
    benchmark: 'access',
    settings: s,
    gatewayConfig: gatewayConfig(s),
    data: { instances: set.instances.length, rows: 256, columns: 256, bitsAllocated: 16, totalBytes: set.totalBytes, institution: ACCESS_INSTITUTION },
    summary,
    firstRequests: firsts,
    failures,
    rounds: cells,
  });
  process.stdout.write(`\nresults: ${file} (${fmt((finishedAt.getTime() - startedAt.getTime()) / 1000, 0)} s)\n`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
