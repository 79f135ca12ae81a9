/**
 * Where the protected path's CPU goes: a fresh gateway with the embedded defaults (hardened
 * protection, `fs` store; one process, `server.workers: 1`, the compiled `dist/`) run with
 * `node --cpu-prof`, driven as `npm run bench` drives it: STOW-RS of the `ct512` set one instance
 * per request, then WADO-RS of every instance, at concurrency 4. Each pass is preceded by a warm-up
 * pass (a first STOW of other instances; a first WADO), then QIDO-RS `/studies` queries (400, after 100 warm-up
 * queries): what every request costs besides the instance bytes. Prints the server CPU time per instance
 * and the self time by module and function of each measured pass.
 *
 * `npm run build && node --import tsx bench/profile-protected.ts`. Knobs: `BENCH_SCALE` (default
 * 0.2), `BENCH_SETS` (one set, default `ct512`), `PROFILE_CONFIG` (JSON merged into the gateway's
 * configuration, e.g. `{"protection":{"mode":"none"}}`), `PROFILE_CPU=0` (no profiler),
 * `PROFILE_DIR` (where the profiles stay; default a temp dir), `PROFILE_TOP` (rows, default 30).
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../test/support/gateway.js';
import { cpuTimeMs } from '../test/support/orthanc.js';
import { formatSummary, summariseFile } from './lib/cpuprofile.js';
import { generateSet, type SetName } from './lib/dataset.js';
import { qidoPass, qidoQueries, stowPass, wadoPass, type PassResult } from './lib/operations.js';
import type { BenchServer } from './lib/servers.js';

const scale = Number(process.env.BENCH_SCALE ?? '0.2');
const setName = (process.env.BENCH_SETS ?? 'ct512') as SetName;
const top = Number(process.env.PROFILE_TOP ?? '30');
const set = generateSet(setName, scale);
const half = Math.ceil(set.instances.length / 2);
const [warm, measured] = [set.instances.slice(0, half), set.instances.slice(half)];
const extra = JSON.parse(process.env.PROFILE_CONFIG ?? '{}') as Record<string, unknown>;
const dir = process.env.PROFILE_DIR ?? (await mkdtemp(join(tmpdir(), 'aegis-prof-')));
await mkdir(dir, { recursive: true });

const gateway = await startGateway({ config: { server: { workers: 1 }, ...extra }, nodeArgs: process.env.PROFILE_CPU === '0' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
const server: BenchServer = { kind: 'aegis', dicomWebUrl: gateway.dicomWebUrl, pid: gateway.pid, headers: {}, peakRss: () => 0, cpuMs: () => cpuTimeMs(gateway.pid), overhead: async () => 1, stop: async () => undefined };
const windows: Array<{ name: string; from: number; until: number; cpuMs: number; result: PassResult; count: number }> = [];
async function pass(name: string, run: () => Promise<PassResult>, count: number): Promise<void> {
  const [cpu0, from] = [server.cpuMs(), Number(process.hrtime.bigint() / 1000n)];
  const started = performance.now();
  const result = await run();
  const wall = performance.now() - started;
  windows.push({ name, from, until: Number(process.hrtime.bigint() / 1000n), cpuMs: server.cpuMs() - cpu0, result, count });
  console.log(`${name}: ${count} instances, ${(count / (wall / 1000)).toFixed(1)}/s, server CPU ${((server.cpuMs() - cpu0) / count).toFixed(2)} ms per instance, errors ${result.errors + result.mismatches}`);
}
try {
  await pass('stow warm-up', () => stowPass(server, warm, 1, 4), warm.length);
  await pass('stow', () => stowPass(server, measured, 1, 4), measured.length);
  await pass('wado warm-up', () => wadoPass(server, warm, 4), warm.length);
  await pass('wado', () => wadoPass(server, measured, 4), measured.length);
  const { studies } = qidoQueries(set);
  await pass('qido warm-up', () => qidoPass(server, studies, 100, 4), 100);
  await pass('qido-studies', () => qidoPass(server, studies, 400, 4), 400);
} finally {
  await gateway.stop();
}
await writeFile(join(dir, 'windows.json'), JSON.stringify(windows.map(({ name, from, until, cpuMs, count }) => ({ name, from, until, cpuMs, count }))));
const file = (await readdir(dir).catch(() => [])).find((f) => f.endsWith('.cpuprofile'));
if (file) {
  for (const w of windows.filter((w) => !w.name.includes('warm'))) {
    console.log(`\n== ${w.name}`);
    console.log(formatSummary(await summariseFile(join(dir, file), top, w.from, w.until)));
  }
}
console.log(`\nprofiles in ${dir}`);
