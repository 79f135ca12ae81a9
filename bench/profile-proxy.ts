/**
 * Where the proxy's CPU goes: Orthanc with the `ct512` set stored into it directly, and in front
 * of it, per operation, a fresh gateway in proxy mode (one process, `server.workers: 1`, the
 * compiled `dist/`) run with `node --cpu-prof`. Each operation (WADO-RS instances, frames, QIDO-RS
 * studies and instances) is driven as `npm run bench` drives it: one warm-up pass, then
 * `PROFILE_REPEAT` measured passes, whose samples alone are summarised (self time by module and
 * function; start-up and shutdown left out). The same passes then go through a bare Node proxy
 * (`lib/bare-proxy.ts`: no authentication, policy, audit, logging or metrics) and straight to
 * Orthanc, and the CPU time per request of each is printed: the gateway's, the bare proxy's (the
 * floor of any Node proxy), Orthanc's own and the client's (this process).
 *
 * `npm run build && node --import tsx bench/profile-proxy.ts`. Knobs: `BENCH_SCALE` (default 0.1),
 * `PROFILE_REPEAT` (measured passes per operation, default 4), `PROFILE_OPS` (comma-separated,
 * default all), `PROFILE_DIR` (where the profiles stay; default a temp dir), `PROFILE_CPU=0` (no
 * profiler, CPU figures only: the profiler's sampling costs CPU too), `PROFILE_STRACE=<prefix>`
 * (`strace -c` of each server over the measured passes, to `<prefix>.<pid>`), `PROFILE_STDERR=1`
 * (print what the gateway wrote to stderr).
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../test/support/gateway.js';
import { cpuTimeMs, startOrthanc } from '../test/support/orthanc.js';
import { formatSummary, summariseFile } from './lib/cpuprofile.js';
import { generateSet, warmupInstances } from './lib/dataset.js';
import { framesPass, qidoPass, qidoQueries, stowPass, wadoPass, type PassResult } from './lib/operations.js';
import type { BenchServer } from './lib/servers.js';

const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const repeat = Number(process.env.PROFILE_REPEAT ?? '4');
const set = generateSet('ct512', scale);
const queries = qidoQueries(set);

const operations: Record<string, (server: BenchServer) => Promise<PassResult>> = {
  'wado-instance': (s) => wadoPass(s, set.instances, 4),
  'wado-frame': (s) =>
    framesPass(
      s,
      set.instances.map((instance) => ({ instance, frame: 1 })),
      4,
    ),
  'qido-studies': (s) => qidoPass(s, queries.studies, 100, 4),
  'qido-instances': (s) => qidoPass(s, queries.instances, 100, 4),
};

/** CPU of the server under test and of Orthanc over `repeat` passes of `run`, after one warm-up pass. */
async function measure(server: BenchServer, run: (s: BenchServer) => Promise<PassResult>): Promise<{ requests: number; errors: number; cpuMs: number; upstreamMs: number; clientMs: number; from: number; until: number }> {
  await run(server); // warm-up: JIT, connections, the kept descriptions of the studies
  const strace = process.env.PROFILE_STRACE ? spawn('strace', ['-c', '-f', '-p', String(server.pid), '-o', `${process.env.PROFILE_STRACE}.${server.pid}`]) : undefined;
  if (strace) await new Promise((r) => setTimeout(r, 1000));
  const [cpu0, upstream0, client0, from] = [server.cpuMs(), cpuTimeMs(orthanc.pid), process.cpuUsage(), Number(process.hrtime.bigint() / 1000n)];
  let [requests, errors] = [0, 0];
  for (let i = 0; i < repeat; i++) {
    const result = await run(server);
    requests += result.requests;
    errors += result.errors + result.mismatches;
  }
  strace?.kill('SIGINT');
  const client = process.cpuUsage(client0);
  return { requests, errors, cpuMs: server.cpuMs() - cpu0, upstreamMs: cpuTimeMs(orthanc.pid) - upstream0, clientMs: (client.user + client.system) / 1000, from, until: Number(process.hrtime.bigint() / 1000n) };
}

/** The bare proxy of `lib/bare-proxy.ts` in front of Orthanc. */
async function startBareProxy(): Promise<{ server: BenchServer; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./lib/bare-proxy.ts', import.meta.url)), orthanc.dicomWebUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the bare proxy exited with ${code}`)));
  });
  const server: BenchServer = { ...direct(), kind: 'aegis-proxy', dicomWebUrl: `${url}/dicom-web`, pid: child.pid!, cpuMs: () => cpuTimeMs(child.pid!) };
  return { server, stop: () => child.kill('SIGTERM') };
}

function direct(): BenchServer {
  return { kind: 'orthanc', dicomWebUrl: orthanc.dicomWebUrl, pid: orthanc.pid, headers: {}, peakRss: () => 0, cpuMs: () => cpuTimeMs(orthanc.pid), overhead: async () => 1, stop: async () => undefined };
}

const perRequest = (ms: number, requests: number): string => (ms / requests).toFixed(2);

const orthanc = await startOrthanc();
const profileRoot = process.env.PROFILE_DIR ?? (await mkdtemp(join(tmpdir(), 'aegis-prof-')));
try {
  const stored = await stowPass(direct(), [...warmupInstances(), ...set.instances], 1, 4);
  if (stored.errors > 0) throw new Error(`STOW into Orthanc failed: ${stored.samples.join('; ')}`);
  for (const [name, run] of Object.entries(operations).filter(([op]) => (process.env.PROFILE_OPS ?? op).split(',').includes(op))) {
    const dir = join(profileRoot, name);
    const gateway = await startGateway({ config: { server: { workers: 1 }, upstream: { url: orthanc.dicomWebUrl } }, nodeArgs: process.env.PROFILE_CPU === '0' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
    await mkdir(dir, { recursive: true });
    const proxied = await measure({ ...direct(), kind: 'aegis-proxy', dicomWebUrl: gateway.dicomWebUrl, pid: gateway.pid, cpuMs: () => cpuTimeMs(gateway.pid) }, run);
    if (process.env.PROFILE_STDERR) console.log(gateway.stderr().slice(0, 3000));
    await gateway.stop();
    const bare = await startBareProxy();
    const floor = await measure(bare.server, run);
    bare.stop();
    const orthancAlone = await measure(direct(), run);
    console.log(`\n== ${name}: ${proxied.requests} requests each (errors: gateway ${proxied.errors}, bare proxy ${floor.errors}, direct ${orthancAlone.errors})`);
    console.log(
      `CPU ms per request: gateway ${perRequest(proxied.cpuMs, proxied.requests)} (its Orthanc ${perRequest(proxied.upstreamMs, proxied.requests)}), bare proxy ${perRequest(floor.cpuMs, floor.requests)}, Orthanc direct ${perRequest(orthancAlone.cpuMs, orthancAlone.requests)}; the client ${perRequest(orthancAlone.clientMs, orthancAlone.requests)} (direct), ${perRequest(proxied.clientMs, proxied.requests)} (through the gateway)`,
    );
    await writeFile(join(dir, 'window.json'), JSON.stringify(proxied));
    const file = (await readdir(dir).catch(() => [])).find((f) => f.endsWith('.cpuprofile'));
    if (file) console.log(formatSummary(await summariseFile(join(dir, file), 30, proxied.from, proxied.until)));
  }
  console.log(`\nprofiles in ${profileRoot}`);
} finally {
  await orthanc.stop();
}
