/**
 * The soak: `npm run soak` (builds, then `node --import tsx bench/soak.ts`). Starts a fresh gateway
 * with authentication required, makes its users and an API key with the CLI, stores the resident
 * studies, then drives `--clients` concurrent clients (default 50: admins, radiologists of two
 * institutions, a modality with an API key) for `--minutes` (default 10) on a weighted mix of
 * STOW, WADO, frames, QIDO, metadata and DELETE, checking every answer exactly. See bench/README.md
 * ("Soak").
 *
 * Prints per minute the requests, errors (by kind), expected denials (by kind), p50/p99 per
 * operation and the whole gateway's RSS (every process summed, sampled every second), and writes
 * it all to reports/soak/<timestamp>.json. Exits 1 unless: no errors, only the expected denials,
 * and the last minute's overall p99 and largest RSS within 15 % of the second minute's.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runClient, roleOf, type SoakAccount } from './lib/soak-clients.js';
import { soakData } from './lib/soak-data.js';
import { Churn } from './lib/soak-ops.js';
import { dataSizes, gatewayMemory, prepareAccounts, processTreeRss, soakConfig, startSoakGateway, storeResident } from './lib/soak-setup.js';
import { renderBuckets, SoakRecorder, verdict, type BucketReport } from './lib/soak-stats.js';
import { fmt } from './lib/stats.js';
import { cpuTimeMs } from '../test/support/orthanc.js';

interface Settings {
  minutes: number;
  clients: number;
  bucketSeconds: number;
  thinkMs: number;
  window: number;
  workers?: number;
  tolerance: number;
  accessTokenMinutes: number;
  verifiedCacheMiB?: number;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      clients: { type: 'string', default: '50' },
      'bucket-seconds': { type: 'string', default: '60' },
      'think-ms': { type: 'string', default: '0' },
      window: { type: 'string', default: '40' },
      workers: { type: 'string' },
      tolerance: { type: 'string', default: '0.15' },
      'token-minutes': { type: 'string', default: '4' },
      'verified-cache-mib': { type: 'string' },
    },
  });
  const num = (name: string, raw: string | undefined, min: number): number => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return v;
  };
  return {
    minutes: num('minutes', values.minutes, 0.1),
    clients: Math.floor(num('clients', values.clients, 1)),
    bucketSeconds: num('bucket-seconds', values['bucket-seconds'], 5),
    thinkMs: num('think-ms', values['think-ms'], 0),
    window: Math.floor(num('window', values.window, 1)),
    workers: values.workers === undefined ? undefined : Math.floor(num('workers', values.workers, 1)),
    tolerance: num('tolerance', values.tolerance, 0),
    accessTokenMinutes: num('token-minutes', values['token-minutes'], 1),
    verifiedCacheMiB: values['verified-cache-mib'] === undefined ? undefined : Math.floor(num('verified-cache-mib', values['verified-cache-mib'], 0)),
  };
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** Which account each client uses: clients of a role take that role's accounts in turn. */
function assign(accounts: SoakAccount[], clients: number): SoakAccount[] {
  const seen = new Map<string, number>();
  return Array.from({ length: clients }, (_, i) => {
    const role = roleOf(i);
    const mine = accounts.filter((a) => a.role === role);
    const n = seen.get(role) ?? 0;
    seen.set(role, n + 1);
    return mine[n % mine.length]!;
  });
}

/** Expected denials must be exactly the kinds the mix produces, and there must be some of each. */
function denialProblems(buckets: readonly BucketReport[], accounts: readonly SoakAccount[]): string[] {
  const expected = new Set<string>();
  for (const a of accounts) {
    if (a.role === 'modality') expected.add('modality stow-foreign: 409').add('modality search-modality: 403');
    if (a.role.startsWith('radiologist')) expected.add(`${a.role} read-foreign: 404`).add(`${a.role} qido-foreign: 200 []`);
  }
  const seen = new Map<string, number>();
  for (const b of buckets) for (const [k, n] of Object.entries(b.denialsByKind)) seen.set(k, (seen.get(k) ?? 0) + n);
  const problems = [...seen.keys()].filter((k) => !expected.has(k)).map((k) => `unexpected denial kind: ${k}`);
  for (const k of expected) if (!seen.has(k)) problems.push(`expected denial never seen: ${k}`);
  return problems;
}

async function main(): Promise<void> {
  const s = readSettings();
  const startedAt = new Date();
  log(
    `soak: ${s.clients} clients for ${s.minutes} min, buckets of ${s.bucketSeconds} s, think ${s.thinkMs} ms, churn window ${s.window} studies, ${cpus().length} CPUs, load ${loadavg()
      .map((l) => fmt(l, 2))
      .join(' ')}`,
  );
  const data = soakData();
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-soak-'));
  const config = soakConfig({ workers: s.workers, accessTokenMinutes: s.accessTokenMinutes, verifiedCacheMiB: s.verifiedCacheMiB });
  const loads: number[][] = [];
  let buckets: BucketReport[] = [];
  let rec: SoakRecorder | undefined;
  const churn = new Churn(data, s.window);
  let gatewayErrors: string[] = [];
  try {
    const accounts = await prepareAccounts(dataDir, config);
    const { g, errorLogs, metricsToken } = await startSoakGateway(dataDir, config);
    gatewayErrors = errorLogs;
    try {
      await storeResident(
        g,
        accounts.find((a) => a.role === 'admin')!,
        data,
      );
      const workers = Object.keys(processTreeRss(g.pid)).length;
      log(`gateway pid ${g.pid} (${workers} processes) at ${g.url}; resident studies stored; data in ${dataDir}`);
      const t0 = performance.now();
      rec = new SoakRecorder(t0, s.bucketSeconds * 1000);
      const r = rec;
      const sampler = setInterval(() => {
        const per = processTreeRss(g.pid);
        r.rss(
          Object.values(per).reduce((a, b) => a + b.rss, 0),
          per,
        );
        r.gauge('liveChurnStudies', churn.live.length);
        r.gauge('gatewayCpuMs', cpuTimeMs(g.pid));
        r.gauge('load1', loadavg()[0]!);
      }, 1000);
      let shown = 0;
      const progress = setInterval(() => {
        const sizes = dataSizes(dataDir);
        r.gauge('catalogBytes', sizes.catalogBytes);
        r.gauge('storeBytes', sizes.dataBytes);
        r.gauge('catalogWalBytes', sizes.walBytes);
        void gatewayMemory(g, metricsToken).then((m) => {
          if (m === undefined) return;
          r.gauge('heapUsedBytes', m.heapUsed);
          r.gauge('externalBytes', m.external);
        });
        loads.push(loadavg());
        const done = r.report().slice(0, -1);
        for (; shown < done.length; shown++) {
          const b = done[shown]!;
          log(
            `  [${b.fromS}s] ${b.requests} req, ${b.errors} err, ${b.denied} denied, p50 ${fmt(b.p50Ms)} ms, p99 ${fmt(b.p99Ms)} ms, RSS max ${fmt(b.rssMaxMB)} MB, heap ${fmt((b.gauges.heapUsedBytes ?? NaN) / 1e6)} MB, external ${fmt((b.gauges.externalBytes ?? NaN) / 1e6)} MB, live ${b.gauges.liveChurnStudies ?? '-'}, catalog ${fmt((b.gauges.catalogBytes ?? NaN) / 1e6)} MB (WAL ${fmt((b.gauges.catalogWalBytes ?? NaN) / 1e6)} MB), load ${fmt(loadavg()[0]!, 2)}`,
          );
        }
      }, 5000);
      const endAt = t0 + s.minutes * 60_000;
      const clientAccounts = assign(accounts, s.clients);
      await Promise.all(clientAccounts.map((a, i) => runClient(i, a, { gatewayUrl: g.url, dicomWebUrl: g.dicomWebUrl, data, churn, rec: r, endAt, thinkMs: s.thinkMs })));
      clearInterval(sampler);
      clearInterval(progress);
      // Requests that ended after the end time fall into an extra, partial bucket: merged away by
      // keeping only the buckets of the configured duration.
      buckets = rec.report().slice(0, Math.ceil((s.minutes * 60) / s.bucketSeconds));
      const exited = g.process.exitCode !== null || g.process.signalCode !== null;
      if (exited) log(`!! the gateway exited during the soak: ${g.stderr().slice(-2000)}`);
    } finally {
      await g.stop();
    }
    await report(s, startedAt, buckets, rec, churn, loads, denialProblems(buckets, accounts), gatewayErrors);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function report(s: Settings, startedAt: Date, buckets: BucketReport[], rec: SoakRecorder | undefined, churn: Churn, loads: number[][], denials: string[], gatewayErrors: string[]): Promise<void> {
  const v = verdict(buckets, s.tolerance, denials);
  const total = buckets.reduce((n, b) => n + b.requests, 0);
  process.stdout.write(`\n${renderBuckets(buckets, s.bucketSeconds)}\n`);
  const denialTotals: Record<string, number> = {};
  for (const b of buckets) for (const [k, n] of Object.entries(b.denialsByKind)) denialTotals[k] = (denialTotals[k] ?? 0) + n;
  process.stdout.write(
    `expected denials: ${
      Object.entries(denialTotals)
        .map(([k, n]) => `${k} x${n}`)
        .join(', ') || 'none'
    }\n`,
  );
  process.stdout.write(`churn: ${churn.stored} studies stored, ${churn.deleted} deleted, ${churn.live.length} live at the end (window ${s.window})\n`);
  for (const e of rec?.errorSamples.slice(0, 10) ?? []) process.stdout.write(`error: ${e}\n`);
  for (const line of gatewayErrors.slice(0, 5)) process.stdout.write(`gateway log: ${line.slice(0, 1500)}\n`);
  const finishedAt = new Date();
  const dir = fileURLToPath(new URL('../reports/soak/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = `${dir}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const body = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    node: process.version,
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMB: Math.round(totalmem() / 1e6), loadAverages: loads },
    settings: s,
    verdict: v,
    requests: total,
    churn: { stored: churn.stored, deleted: churn.deleted, liveAtEnd: churn.live.length },
    denials: denialTotals,
    errorSamples: rec?.errorSamples ?? [],
    gatewayErrorLogs: gatewayErrors,
    buckets,
  };
  await writeFile(file, JSON.stringify(body, null, 2));
  const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)} %` : 'n/a');
  process.stdout.write(`\n${total} requests; p99 last vs second bucket ${pct(v.p99Change)}, RSS ${pct(v.rssChange)} (tolerance ${fmt(s.tolerance * 100, 0)} %)\n`);
  process.stdout.write(`verdict: ${v.pass ? 'PASS' : `FAIL\n  ${v.reasons.join('\n  ')}`}\nreport: ${file}\n`);
  if (!v.pass) process.exitCode = 1;
}

await main();
