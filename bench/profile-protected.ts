/**
 * Where the protected path's CPU goes, and where its floor is. For each server of `PROFILE_SERVERS`
 * (default `aegis,aegis-unprotected,orthanc`): a fresh server, driven as `npm run bench` drives it
 * at `BENCH_CONCURRENCY` (default 4): STOW-RS of half the set one instance per request (warm-up),
 * STOW-RS of the other half (measured), WADO-RS of the first half (warm-up) and of the second
 * (measured), then QIDO-RS `/studies` queries (100 warm-up, 400 measured: what every request costs
 * besides the instance bytes). Prints the server's CPU time (user + system, every process and
 * thread) per instance or query of each measured pass, and the ratios to Orthanc. The gateway runs
 * as one process (`server.workers: 1`, the compiled `dist/`) so that its profile is one file; with
 * `aegis` in the list it runs under `node --cpu-prof` and the self time by module and function of
 * each measured pass is printed. Last, the speed of the cryptography on this machine, one core:
 * AES-256-GCM and SHA-256 over an instance's bytes, as the gateway calls them.
 *
 * `npm run build && node --import tsx bench/profile-protected.ts`. Knobs: `BENCH_SCALE` (default
 * 0.8: 120 instances measured per pass), `BENCH_SETS` (one set, default `ct512`), `PROFILE_SERVERS`,
 * `PROFILE_CONFIG` (JSON merged into the `aegis` gateway's configuration), `PROFILE_CPU=0` (no
 * profiler: it costs CPU too), `PROFILE_DIR` (where the profiles stay; default a temp dir),
 * `PROFILE_TOP` (rows, default 30).
 */
import { createHash, randomBytes } from 'node:crypto';
import { encryptFragment } from '../gateway/keys/envelope.js';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../test/support/gateway.js';
import { cpuTimeMs, startOrthanc } from '../test/support/orthanc.js';
import { formatSummary, summariseFile } from './lib/cpuprofile.js';
import { generateSet, type BenchInstance, type SetName } from './lib/dataset.js';
import { qidoPass, qidoQueries, stowPass, wadoPass, type PassResult } from './lib/operations.js';
import type { BenchServer, ServerKind } from './lib/servers.js';

const scale = Number(process.env.BENCH_SCALE ?? '0.8');
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? '4');
const setName = (process.env.BENCH_SETS ?? 'ct512') as SetName;
const top = Number(process.env.PROFILE_TOP ?? '30');
const kinds = (process.env.PROFILE_SERVERS ?? 'aegis,aegis-unprotected,orthanc').split(',') as ServerKind[];
const profile = process.env.PROFILE_CPU !== '0';
const set = generateSet(setName, scale);
const half = Math.ceil(set.instances.length / 2);
const [warm, measured] = [set.instances.slice(0, half), set.instances.slice(half)];
const { studies } = qidoQueries(set);

/** One measured pass: the server's CPU per item, the items per second, and its window for the profile. */
interface Window {
  pass: string;
  items: number;
  cpuMsPerItem: number;
  perSecond: number;
  errors: number;
  from: number;
  until: number;
}

/** A fresh server of `kind`, with a function that stops it and says where its profile is. */
async function start(kind: ServerKind, dir: string): Promise<{ server: BenchServer; stop: () => Promise<void> }> {
  const base = { headers: {}, peakRss: () => 0, overhead: async () => 1, stop: async () => undefined };
  if (kind === 'orthanc') {
    const o = await startOrthanc();
    return { server: { ...base, kind, dicomWebUrl: o.dicomWebUrl, pid: o.pid, cpuMs: () => cpuTimeMs(o.pid) }, stop: () => o.stop() };
  }
  const extra = kind === 'aegis' ? (JSON.parse(process.env.PROFILE_CONFIG ?? '{}') as Record<string, unknown>) : { protection: { mode: 'none' } };
  const nodeArgs = profile && kind === 'aegis' ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const g = await startGateway({ config: { server: { workers: 1 }, ...extra }, nodeArgs });
  return { server: { ...base, kind, dicomWebUrl: g.dicomWebUrl, pid: g.pid, cpuMs: () => cpuTimeMs(g.pid) }, stop: () => g.stop() };
}

async function measure(server: BenchServer, pass: string, items: number, run: () => Promise<PassResult>): Promise<Window> {
  const [cpu0, from, started] = [server.cpuMs(), Number(process.hrtime.bigint() / 1000n), performance.now()];
  const result = await run();
  const wallS = (performance.now() - started) / 1000;
  return { pass, items, cpuMsPerItem: (server.cpuMs() - cpu0) / items, perSecond: items / wallS, errors: result.errors + result.mismatches, from, until: Number(process.hrtime.bigint() / 1000n) };
}

async function drive(server: BenchServer): Promise<Window[]> {
  const stow = (instances: readonly BenchInstance[]) => () => stowPass(server, instances, 1, concurrency);
  await stow(warm)();
  const windows = [await measure(server, 'stow', measured.length, stow(measured))];
  await wadoPass(server, warm, concurrency);
  windows.push(await measure(server, 'wado', measured.length, () => wadoPass(server, measured, concurrency)));
  await qidoPass(server, studies, 100, concurrency);
  windows.push(await measure(server, 'qido-studies', 400, () => qidoPass(server, studies, 400, concurrency)));
  return windows;
}

/** MB per second of one core for `op` over `bytes`, best of five runs of a fifth of a second. */
function speed(bytes: Uint8Array, op: (b: Uint8Array) => void): number {
  let best = 0;
  for (let run = 0; run < 5; run++) {
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < 200) {
      op(bytes);
      n++;
    }
    best = Math.max(best, (n * bytes.length) / 1e6 / ((performance.now() - started) / 1000));
  }
  return best;
}

const results = new Map<ServerKind, Window[]>();
for (const kind of kinds) {
  const dir = process.env.PROFILE_DIR ? join(process.env.PROFILE_DIR, kind) : await mkdtemp(join(tmpdir(), `aegis-prof-${kind}-`));
  await mkdir(dir, { recursive: true });
  const { server, stop } = await start(kind, dir);
  let windows: Window[];
  try {
    windows = await drive(server);
  } finally {
    await stop();
  }
  results.set(kind, windows);
  const file = (await readdir(dir).catch(() => [])).find((f) => f.endsWith('.cpuprofile'));
  for (const w of file ? windows : []) console.log(`\n== ${kind} ${w.pass}: self time of the gateway\n${formatSummary(await summariseFile(join(dir, file!), top, w.from, w.until))}`);
  if (file) console.log(`\nprofile: ${join(dir, file)}`);
}

const instanceBytes = measured.reduce((n, i) => n + i.bytes.length, 0) / measured.length;
console.log(`\n${setName}: ${measured.length} instances of ${(instanceBytes / 1e6).toFixed(3)} MB measured per pass, concurrency ${concurrency}`);
console.log('server              pass          CPU ms/item  items/s  errors  CPU vs orthanc');
const orthanc = results.get('orthanc');
for (const [kind, windows] of results) {
  for (const w of windows) {
    const o = orthanc?.find((x) => x.pass === w.pass);
    console.log(`${kind.padEnd(19)} ${w.pass.padEnd(13)} ${w.cpuMsPerItem.toFixed(2).padStart(11)}  ${w.perSecond.toFixed(1).padStart(7)}  ${String(w.errors).padStart(6)}  ${o ? `${(w.cpuMsPerItem / o.cpuMsPerItem).toFixed(2)}x` : ''}`);
  }
}

// The cryptography of one instance, as the gateway calls it: its AES-256-GCM seal (`keys/envelope.ts`) and SHA-256 in one update.
const sample = randomBytes(Math.round(instanceBytes));
const key = randomBytes(32);
const gcm = speed(sample, (b) => encryptFragment(key, b, new Uint8Array(0)));
const sha = speed(sample, (b) => createHash('sha256').update(b).digest());
console.log(
  `\none core: AES-256-GCM ${gcm.toFixed(0)} MB/s (${((instanceBytes / 1e6 / gcm) * 1000).toFixed(2)} ms per instance), SHA-256 ${sha.toFixed(0)} MB/s (${((instanceBytes / 1e6 / sha) * 1000).toFixed(2)} ms per pass over an instance)`,
);
