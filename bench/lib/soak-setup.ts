/**
 * The soak's gateway: a fresh data folder with the secure defaults (authentication required), the
 * soak's users and API key made with the `aegis` CLI as an operator would, the resident studies
 * stored by the admin, and the memory of the whole gateway (primary and workers) read from /proc.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runAegis } from '../../test/support/aegis-cli.js';
import { parsePrometheusText } from '../../test/support/prometheus-text.js';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../../test/support/gateway.js';
import { keepAliveAgent, send } from './http.js';
import { stowBody } from './multipart.js';
import type { SoakAccount } from './soak-clients.js';
import { INSTITUTION_A, INSTITUTION_B, type SoakData } from './soak-data.js';

/** The accounts: one admin, two radiologists of A, one of B, and a CT of A sending with an API key. */
const USERS: ReadonlyArray<Omit<SoakAccount, 'password' | 'apiKey'> & { cliRole: string }> = [
  { name: 'soak-admin', role: 'admin', cliRole: 'admin', institution: INSTITUTION_A },
  { name: 'soak-rad-a1', role: 'radiologist-a', cliRole: 'radiologist', institution: INSTITUTION_A },
  { name: 'soak-rad-a2', role: 'radiologist-a', cliRole: 'radiologist', institution: INSTITUTION_A },
  { name: 'soak-rad-b1', role: 'radiologist-b', cliRole: 'radiologist', institution: INSTITUTION_B },
  { name: 'soak-ct', role: 'modality', cliRole: 'modality', institution: INSTITUTION_A },
];

/**
 * Starts the gateway, trying up to three times: on a loaded shared machine a start can take longer
 * than the 30 s the test helper waits (it stops that attempt before the next).
 */
async function startPatiently(options: StartGatewayOptions): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGateway(options);
    } catch (error) {
      if (attempt === 3 || !/did not start in/.test((error as Error).message)) throw error;
      process.stderr.write(`the gateway did not start in time (attempt ${attempt}); trying again\n`);
    }
  }
}

/** The gateway configuration of the soak (authentication required; short tokens so refreshes happen). */
export function soakConfig(o: { workers?: number; accessTokenMinutes: number; verifiedCacheMiB?: number }): Record<string, unknown> {
  return {
    ...(o.workers ? { server: { workers: o.workers } } : {}),
    ...(o.verifiedCacheMiB !== undefined ? { protection: { verifiedCacheMiB: o.verifiedCacheMiB } } : {}),
    auth: { bootstrapAdmin: false, accessTokenMinutes: o.accessTokenMinutes },
  };
}

/**
 * Creates the catalog (one start and stop of the gateway), then the users and the modality's API
 * key with the CLI. Resolves to the accounts.
 */
export async function prepareAccounts(dataDir: string, config: Record<string, unknown>): Promise<SoakAccount[]> {
  const first = await startPatiently({ dataDir, keepData: true, secure: true, config });
  await first.stop();
  const data = ['--data', dataDir];
  const accounts: SoakAccount[] = [];
  for (const u of USERS) {
    const password = `soak-password-${u.name}-0123`;
    const attr = u.role === 'admin' ? [] : ['--attr', `institution=${u.institution}`];
    const added = await runAegis(['users', 'add', u.name, '--role', u.cliRole, ...attr, '--password-stdin', ...data], { input: `${password}\n` });
    if (added.status !== 0) throw new Error(`aegis users add ${u.name}: ${added.stderr}`);
    const account: SoakAccount = { name: u.name, role: u.role, institution: u.institution, password };
    if (u.role === 'modality') {
      const key = await runAegis(['apikeys', 'create', u.name, '--label', 'soak', ...data]);
      if (key.status !== 0) throw new Error(`aegis apikeys create: ${key.stderr}`);
      accounts.push({ ...account, password: undefined, apiKey: key.stdout.trim() });
    } else accounts.push(account);
  }
  return accounts;
}

/** Stores the resident studies as the admin (one STOW per study); throws unless every one is stored. */
export async function storeResident(g: RunningGateway, admin: SoakAccount, data: SoakData): Promise<void> {
  const agent = keepAliveAgent(1);
  try {
    const grant = new URLSearchParams({ grant_type: 'password', username: admin.name, password: admin.password! }).toString();
    const t = await send(agent, `${g.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: [Buffer.from(grant)] });
    if (t.status !== 200) throw new Error(`admin sign-in: HTTP ${t.status} ${t.body.toString()}`);
    const token = (JSON.parse(t.body.toString()) as { access_token: string }).access_token;
    for (const s of [...data.residentA, ...data.residentB]) {
      const body = stowBody(s.instances.map((i) => i.bytes));
      const r = await send(agent, `${g.dicomWebUrl}/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': body.contentType, accept: 'application/dicom+json' }, body: body.chunks });
      if (r.status !== 200) throw new Error(`storing resident study ${s.patientID}: HTTP ${r.status} ${r.body.toString('utf8', 0, 300)}`);
    }
  } finally {
    agent.destroy();
  }
}

/** The soak's gateway and the log lines at level error or above it wrote (at most 200). */
export interface SoakGateway {
  g: RunningGateway;
  errorLogs: string[];
  /** The scrape token of `/metrics` (AEGIS_METRICS_TOKEN). */
  metricsToken: string;
}

/**
 * Starts the soak's gateway on a prepared data folder, logging at `info` (every request) as
 * deployed. The log lines are looked through every second: those at level error (50) or above are
 * kept, the rest dropped, so the soak's own memory does not grow with them.
 */
export async function startSoakGateway(dataDir: string, config: Record<string, unknown>): Promise<SoakGateway> {
  const metricsToken = randomBytes(32).toString('hex');
  const g = await startPatiently({ dataDir, keepData: true, secure: true, config, env: { AEGIS_METRICS_TOKEN: metricsToken } });
  const errorLogs: string[] = [];
  const timer = setInterval(() => {
    for (const line of g.logs.splice(0)) {
      if (errorLogs.length < 200 && /"level":\s*(5\d|6\d)\b/.test(line)) errorLogs.push(line);
    }
  }, 1000);
  timer.unref();
  return { g, errorLogs, metricsToken };
}

/** The gateway's memory as its `/metrics` says (every process summed): V8 heap in use and memory outside the heap (Buffers), bytes. */
export async function gatewayMemory(g: RunningGateway, metricsToken: string): Promise<{ heapUsed: number; external: number } | undefined> {
  try {
    const res = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    const families = parsePrometheusText(await res.text());
    const value = (name: string) => families.get(name)?.samples[0]?.value ?? NaN;
    return { heapUsed: value('nodejs_heap_size_used_bytes'), external: value('nodejs_external_memory_bytes') };
  } catch {
    return undefined; // a scrape that fails leaves a gap in the figures, not an error of the soak
  }
}

/** Resident memory of one process, bytes: all of it, anonymous (heaps), file-backed, shared memory. */
export type ProcessRss = { rss: number; anon: number; file: number; shmem: number };

/** Resident memory of `pid` and each of its live descendants (pid -> bytes), from /proc. */
export function processTreeRss(pid: number): Record<string, ProcessRss> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: Record<string, ProcessRss> = {};
  const visit = (p: number): void => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
      out[String(p)] = { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem') };
    } catch {
      return; // exited meanwhile
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}

/** Bytes of the catalog (SQLite file and its WAL) and of everything else in the data folder. */
export function dataSizes(dataDir: string): { catalogBytes: number; walBytes: number; dataBytes: number } {
  let catalogBytes = 0;
  let walBytes = 0;
  let dataBytes = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      try {
        if (e.isDirectory()) walk(p);
        else if (e.name === 'catalog.sqlite-wal') walBytes += statSync(p).size;
        else if (e.name.startsWith('catalog.sqlite')) catalogBytes += statSync(p).size;
        else dataBytes += statSync(p).size;
      } catch {
        /* removed meanwhile */
      }
    }
  };
  walk(dataDir);
  return { catalogBytes, walBytes, dataBytes };
}
