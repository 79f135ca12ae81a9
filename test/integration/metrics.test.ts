/**
 * `GET /metrics` over real HTTP: refused without credentials, with a wrong scrape token and to
 * subjects who are not admins; served with the scrape token and to admins, in a body that a strict
 * Prometheus text-format parser (`test/support/prometheus-text.ts`) accepts; the counters show
 * exactly the instances stored, the failed sign-ins and the lockout, the STOW route by its pattern
 * with status 200, and no UID in any label; a read refused because a stored fragment was altered
 * counts as an integrity failure, a DELETE as the instances it removed. Scrapes with the token stay out of the audit trail,
 * refused ones are in it. In a cluster of two worker processes (the CLI, as users run it), every
 * scrape, whichever worker answers it, counts the requests both workers served.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { childPids, until } from '../support/processes.js';
import { parsePrometheusText, sampleValue, type Family } from '../support/prometheus-text.js';
import { readTrail } from '../support/trail.js';

const TOKEN = randomBytes(32).toString('hex');
const PASSWORD = 'correct horse battery staple';
/** A DICOM UID as it could leak into a label: four or more dotted numbers. */
const UID_LIKE = /\d+(\.\d+){3,}/;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** One request on a connection of its own (so that a cluster spreads them over its workers). */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: { Connection: 'close', ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Scrapes `/metrics` with `authorization` and parses the body strictly; asserts 200 and the media type. */
async function scrape(baseUrl: string, authorization: string): Promise<Map<string, Family>> {
  const res = await send(`${baseUrl}/metrics`, { headers: { Authorization: authorization } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  return parsePrometheusText(res.body);
}

async function stowOne(dicomWebUrl: string, authorization: string, instances: Buffer[]): Promise<number> {
  const { body, contentType } = stowBody(instances);
  return (await send(`${dicomWebUrl}/studies`, { method: 'POST', headers: { Authorization: authorization, 'Content-Type': contentType, Accept: 'application/dicom+json' }, body })).status;
}

/** The pids of the worker processes that logged a request matching `match`. */
function requestPids(gw: RunningGateway, match: (entry: Record<string, any>) => boolean): Set<number> {
  const pids = new Set<number>();
  for (const line of gw.logs) {
    try {
      const entry = JSON.parse(line) as Record<string, any>;
      if (entry.msg === 'request' && match(entry)) pids.add(entry.pid as number);
    } catch {
      // not a log line
    }
  }
  return pids;
}

function assertNoUidInLabels(families: Map<string, Family>): void {
  for (const family of families.values()) for (const sample of family.samples) for (const [label, value] of Object.entries(sample.labels)) assert.doesNotMatch(value, UID_LIKE, `${sample.name} label ${label}`);
}

describe('GET /metrics in one process', { timeout: 120_000 }, () => {
  let gateway: TestGateway;
  let tokenDir: string;
  const admin = basic('ada', PASSWORD);
  const study = newUid();

  before(async () => {
    tokenDir = await mkdtemp(join(tmpdir(), 'aegis-metrics-token-'));
    const tokenFile = join(tokenDir, 'scrape-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    // Two wrong passwords of one name from one client start a delay: the lockout counted below.
    gateway = await startTestGateway({
      protection: { verifiedCacheMiB: 0 },
      auth: { bootstrapAdmin: false, lockout: { maxFailures: 2, delaySeconds: 600, maxDelaySeconds: 600, windowSeconds: 600, maxClientFailures: 1000 } },
      metrics: { tokenFile },
    });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'ada', role: 'admin', attributes: {}, password: PASSWORD });
      await users.add({ name: 'nora', role: 'physician', attributes: {}, password: PASSWORD });
    } finally {
      await catalog.close();
    }
  });
  after(async () => {
    await gateway?.stop();
    await rm(tokenDir, { recursive: true, force: true });
  });

  it('refuses anonymous scrapes (401), wrong tokens (401) and subjects who are not admins (403)', async () => {
    const anonymous = await send(`${gateway.url}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="aegis"/);
    assert.equal(JSON.parse(anonymous.body).error.code, 'UNAUTHENTICATED');
    const wrongSameLength = `${TOKEN.slice(0, -1)}${TOKEN.endsWith('0') ? '1' : '0'}`;
    for (const authorization of [`Bearer ${wrongSameLength}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}`, TOKEN]) {
      const res = await send(`${gateway.url}/metrics`, { headers: { Authorization: authorization } });
      assert.equal(res.status, 401, `${authorization.slice(0, 12)}...: ${res.body}`);
      assert.doesNotMatch(res.body, /aegis_/);
    }
    const physician = await send(`${gateway.url}/metrics`, { headers: { Authorization: basic('nora', PASSWORD) } });
    assert.equal(physician.status, 403);
    assert.equal(JSON.parse(physician.body).error.code, 'FORBIDDEN');
    // The scrape token opens /metrics and nothing else.
    assert.equal((await send(`${gateway.dicomWebUrl}/studies`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 401);
    assert.ok((await scrape(gateway.url, admin)).has('aegis_http_requests_total'));
    assert.ok((await scrape(gateway.url, `Bearer ${TOKEN}`)).has('aegis_http_requests_total'));
  });

  it('counts exactly the instances stored, the failed sign-ins and the lockout, and the STOW route by its pattern with no UID in any label', async () => {
    const before = await scrape(gateway.url, `Bearer ${TOKEN}`);
    const failures = (outcome: string, families: Map<string, Family>) => sampleValue(families, 'aegis_authentication_failures_total', { method: 'basic', outcome }) ?? 0;
    const instances = [1, 2, 3].map((seed) => syntheticInstance({ studyInstanceUID: study, seed }));
    assert.equal(await stowOne(gateway.dicomWebUrl, admin, instances), 200);
    for (const expected of [401, 401, 429]) assert.equal((await send(`${gateway.dicomWebUrl}/studies`, { headers: { Authorization: basic('mallory', 'wrong password') } })).status, expected);
    const metadata = await send(`${gateway.dicomWebUrl}/studies/${study}/metadata`, { headers: { Authorization: admin, Accept: 'application/dicom+json' } });
    assert.equal(metadata.status, 200);

    const res = await send(`${gateway.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.equal(res.body.includes(study), false, 'the study UID appears nowhere in the metrics');
    const families = parsePrometheusText(res.body);
    assert.equal(sampleValue(families, 'aegis_instances_stored_total'), 3);
    assert.equal(sampleValue(families, 'aegis_instances_deleted_total'), 0);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'POST', route: '/dicom-web/studies', status: '200' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'GET', route: '/dicom-web/studies/:study/metadata', status: '200' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_request_duration_seconds_count', { method: 'POST', route: '/dicom-web/studies' }), 1);
    assert.ok(sampleValue(families, 'aegis_http_request_bytes_total', { method: 'POST', route: '/dicom-web/studies' })! > instances.reduce((n, i) => n + i.length, 0));
    assert.ok(sampleValue(families, 'aegis_http_response_bytes_total', { method: 'GET', route: '/dicom-web/studies/:study/metadata' })! > 0);
    assert.equal(failures('failure', families) - failures('failure', before), 2);
    assert.equal(failures('locked', families) - failures('locked', before), 1);
    assert.equal(sampleValue(families, 'aegis_lockouts_total', { scope: 'user' }), 1);
    assert.equal(sampleValue(families, 'aegis_integrity_failures_total', { source: 'read' }), 0);
    assert.ok(sampleValue(families, 'aegis_backend_call_duration_seconds_count', { backend: 'local', kind: 'fs', operation: 'put', outcome: 'ok' })! >= 3);
    assert.ok(sampleValue(families, 'process_resident_memory_bytes')! > 0);
    assert.equal(families.get('nodejs_eventloop_lag_seconds')?.type, 'gauge');
    assert.equal(families.get('aegis_http_request_duration_seconds')?.type, 'histogram');
    assertNoUidInLabels(families);
  });

  it('counts a read refused because stored data failed verification, and the instances deleted', async () => {
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    let instanceUrl: string;
    try {
      const [row] = await catalog.listInstances({ study });
      const manifest = JSON.parse(row!.manifest!) as { fragments: Array<{ locator: string }> };
      const file = join(gateway.dataDir, 'stores', 'local', manifest.fragments[0]!.locator);
      const bytes = await readFile(file);
      bytes[bytes.length >> 1]! ^= 0x01;
      await writeFile(file, bytes);
      instanceUrl = `${gateway.dicomWebUrl}/studies/${study}/series/${row!.series_uid}/instances/${row!.sop_instance_uid}`;
    } finally {
      await catalog.close();
    }
    const read = await send(instanceUrl, { headers: { Authorization: admin, Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    assert.equal(read.status, 502);
    assert.equal((await send(`${gateway.dicomWebUrl}/studies/${study}`, { method: 'DELETE', headers: { Authorization: admin } })).status, 204);
    const families = await scrape(gateway.url, `Bearer ${TOKEN}`);
    assert.equal(sampleValue(families, 'aegis_integrity_failures_total', { source: 'read' }), 1);
    assert.equal(sampleValue(families, 'aegis_instances_deleted_total'), 3);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'GET', route: '/dicom-web/studies/:study/series/:series/instances/:instance', status: '502' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'DELETE', route: '/dicom-web/studies/:study', status: '204' }), 1);
  });

  it('keeps scrapes with the token out of the audit trail, and records refused scrapes and admin scrapes', async () => {
    const { events, verification } = await readTrail(gateway.dataDir);
    assert.equal(verification.ok, true);
    const scrapes = events.filter((e) => e.kind === 'request' && e.http?.path === '/metrics').map((e) => `${e.http!.status} ${e.actor.name}`);
    assert.deepEqual(scrapes.sort(), ['200 ada', '401 (unauthenticated)', '401 (unauthenticated)', '401 (unauthenticated)', '401 (unauthenticated)', '401 (unauthenticated)', '401 (unauthenticated)', '403 nora'].sort());
  });

  it('answers 404 for /metrics, even to an admin, when metrics.enabled is false', async () => {
    const disabled = await startTestGateway({ metrics: { enabled: false } });
    try {
      const res = await send(`${disabled.url}/metrics`);
      assert.equal(res.status, 404);
      assert.equal(JSON.parse(res.body).error.code, 'NOT_FOUND');
    } finally {
      await disabled.stop();
    }
  });
});

describe('GET /metrics in a cluster of two workers', { timeout: 180_000 }, () => {
  let gw: RunningGateway;
  let admin: string;
  const STOWS = 6;

  before(async () => {
    gw = await startGateway({ secure: true, env: { AEGIS_WORKERS: '2', AEGIS_METRICS_TOKEN: TOKEN } });
    await until(() => childPids(gw.pid).length === 2, 'two workers');
    admin = basic('admin', (await readFile(join(gw.dataDir, 'admin-password'), 'utf8')).trim());
  });
  after(async () => {
    await gw?.stop();
  });

  it('refuses anonymous scrapes and wrong tokens, and every scrape counts what both workers served', async () => {
    assert.equal((await send(`${gw.url}/metrics`)).status, 401);
    assert.equal((await send(`${gw.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN.slice(1)}x` } })).status, 401);
    for (let i = 0; i < STOWS; i++) assert.equal(await stowOne(gw.dicomWebUrl, admin, [syntheticInstance({ seed: 100 + i })]), 200);
    // Each STOW came on a connection of its own, and the primary hands connections to the workers in turn.
    await until(() => requestPids(gw, (l) => l.method === 'POST' && l.status === 200).size === 2, 'both workers to have stored instances');
    for (let i = 0; i < 4; i++) {
      const families = await scrape(gw.url, `Bearer ${TOKEN}`);
      assert.equal(sampleValue(families, 'aegis_instances_stored_total'), STOWS, `scrape ${i}`);
      assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'POST', route: '/dicom-web/studies', status: '200' }), STOWS, `scrape ${i}`);
      assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 2, `scrape ${i}`);
      assert.ok(sampleValue(families, 'process_resident_memory_bytes')! > 0);
      assertNoUidInLabels(families);
    }
    await until(() => requestPids(gw, (l) => l.path === '/metrics' && l.status === 200).size === 2, 'both workers to have answered scrapes');
  });
});
