/**
 * A backend that hangs does not hang the gateway. The gateway runs as a child process (the `aegis`
 * command) with a folder backend and an S3 backend; the S3 backend first points at a real s3rver
 * (instances are stored with one region there), then, after a restart on the same data, at a TCP
 * server of this file that accepts connections and never answers a byte. STOW-RS and WADO-RS that
 * need it fail within the configured timeout with the catalogue's code; meanwhile /healthz, QIDO-RS
 * and reads of an instance kept on the folder alone answer promptly; once the backend's circuit
 * breaker opens, calls fail fast with 503 and Retry-After; /readyz and `aegis status` show the
 * backend failing. Durations are bounded loosely (seconds of slack): they show that nothing waited
 * for the hanging server, not how fast the gateway is.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAegis } from '../support/aegis-cli.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startS3rver, type TestS3Server } from '../support/s3rver.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';

const BUCKET = 'aegis-hang';
/** The S3 backend's per-call timeout in the phase where it hangs. */
const TIMEOUT_SECONDS = 6;
/** What "promptly" means here: well under the hanging backend's timeout, loose enough for a busy machine. */
const PROMPT_MS = 4000;

/** A TCP server that accepts every connection and never writes a byte. */
async function startHangingServer(): Promise<{ endpoint: string; connections: () => number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Milliseconds `work` took, with its result. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await work();
  return { ms: performance.now() - start, result };
}

describe('a backend that accepts connections and never answers', () => {
  let s3: TestS3Server;
  let hanging: Awaited<ReturnType<typeof startHangingServer>>;
  let dataDir: string;
  let secrets: string;
  let gw: RunningGateway | undefined;
  const study = newUid();
  const series = newUid();
  /** A small instance of the study, with its UIDs. */
  const instance = () => {
    const sop = newUid();
    return { sop, bytes: syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 32, columns: 32 }) };
  };
  const onRemote = instance();
  const onLocal = instance();

  /** One worker (one breaker), the folder `local` and the S3 backend `remote` at `endpoint`. */
  function config(endpoint: string, regions: string[], remote: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      server: { workers: 1 },
      backends: [
        { name: 'local', kind: 'fs' },
        { name: 'remote', kind: 's3', endpoint, region: 'us-east-1', bucket: BUCKET, forcePathStyle: true, credentialsFile: join(secrets, 's3.json'), timeoutSeconds: TIMEOUT_SECONDS, ...remote },
      ],
      // One instance lies on the folder alone: both its regions there, which the operator allows.
      placement: { instances: 'local', regions, allowSharedProvider: true },
      protection: { verifiedCacheMiB: 0 },
    };
  }

  before(async () => {
    [s3, hanging] = await Promise.all([startS3rver([BUCKET]), startHangingServer()]);
    dataDir = await mkdtemp(join(tmpdir(), 'aegis-hang-'));
    secrets = await mkdtemp(join(tmpdir(), 'aegis-hang-secrets-'));
    await writeFile(join(secrets, 's3.json'), JSON.stringify(s3.credentials), { mode: 0o600 });
    // Stored while every backend answers: one instance on the folder alone, one with a region on S3.
    for (const [instance, regions] of [
      [onLocal, ['local']],
      [onRemote, ['local', 'remote']],
    ] as const) {
      const first = await startGateway({ dataDir, config: config(s3.endpoint, [...regions]) });
      try {
        assert.equal((await stow(first.dicomWebUrl, [instance.bytes])).status, 200);
      } finally {
        await first.stop();
      }
    }
    gw = await startGateway({ dataDir, config: config(hanging.endpoint, ['local', 'remote'], { breaker: { failures: 3, halfOpenAfterSeconds: 600 } }) });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([s3?.stop(), hanging?.stop()]);
    await Promise.all([dataDir && rm(dataDir, { recursive: true, force: true }), secrets && rm(secrets, { recursive: true, force: true })]);
  });

  it('fails STOW-RS and WADO-RS that need it within the timeout while other traffic answers promptly', async () => {
    const g = gw!;
    const slowStow = timed(() => stow(g.dicomWebUrl, [instance().bytes]));
    const slowRead = timed(() => get(`${g.dicomWebUrl}/studies/${study}/series/${series}/instances/${onRemote.sop}`, 'multipart/related; type="application/dicom"; transfer-syntax=*'));
    // Meanwhile: liveness, a query and a read of the instance kept on the folder alone.
    const health = await timed(() => get(`${g.url}/healthz`));
    assert.equal(health.result.status, 200);
    assert.ok(health.ms < PROMPT_MS, `/healthz took ${health.ms} ms`);
    const query = await timed(() => get(`${g.dicomWebUrl}/studies/${study}/instances`, 'application/dicom+json'));
    assert.equal(query.result.status, 200);
    assert.equal((JSON.parse(query.result.body.toString()) as unknown[]).length, 2, 'QIDO-RS lists both stored instances');
    assert.ok(query.ms < PROMPT_MS, `QIDO-RS took ${query.ms} ms`);
    const local = await timed(() => retrieveAsStored(`${g.dicomWebUrl}/studies/${study}/series/${series}/instances/${onLocal.sop}`));
    assert.deepEqual(
      local.result.map((p) => p.bytes),
      [Buffer.from(onLocal.bytes)],
      'the instance on the folder reads back byte-identical',
    );
    assert.ok(local.ms < PROMPT_MS, `WADO-RS of the instance on the folder took ${local.ms} ms`);

    const stored = await slowStow;
    assert.equal(stored.result.status, 504, JSON.stringify(stored.result.json));
    assert.equal(stored.result.json?.error?.code, 'BACKEND_TIMEOUT');
    assert.ok(stored.ms < (TIMEOUT_SECONDS + 5) * 1000, `STOW-RS took ${stored.ms} ms`);
    const read = await slowRead;
    assert.equal(read.result.status, 504, read.result.body.toString());
    assert.equal((JSON.parse(read.result.body.toString()) as { error: { code: string } }).error.code, 'BACKEND_TIMEOUT');
    assert.ok(read.ms < (TIMEOUT_SECONDS + 5) * 1000, `WADO-RS took ${read.ms} ms`);
    assert.ok(hanging.connections() > 0, 'the gateway did connect to the hanging server');
  });

  it('opens the circuit breaker after consecutive failures; then calls fail fast with 503 and Retry-After', async () => {
    const g = gw!;
    const url = `${g.dicomWebUrl}/studies/${study}/series/${series}/instances/${onRemote.sop}`;
    // Two calls failed in the test before (when run alone: the first reads here fail slowly).
    let failFast: { ms: number; result: Awaited<ReturnType<typeof get>> } | undefined;
    for (let attempt = 0; attempt < 4 && failFast === undefined; attempt++) {
      const read = await timed(() => get(url, 'multipart/related; type="application/dicom"; transfer-syntax=*'));
      if (read.result.status === 503) failFast = read;
      else assert.equal(read.result.status, 504, read.result.body.toString());
    }
    assert.ok(failFast, 'the breaker opened after 3 consecutive failures');
    assert.equal((JSON.parse(failFast.result.body.toString()) as { error: { code: string } }).error.code, 'BACKEND_UNAVAILABLE');
    const retryAfter = Number(failFast.result.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 600, `Retry-After ${failFast.result.headers.get('retry-after')}`);
    const again = await timed(() => stow(g.dicomWebUrl, [instance().bytes]));
    assert.equal(again.result.status, 503, JSON.stringify(again.result.json));
    assert.equal(again.result.json?.error?.code, 'BACKEND_UNAVAILABLE');
    assert.ok(again.ms < PROMPT_MS, `STOW-RS with the breaker open took ${again.ms} ms`);
    const fast = await timed(() => get(url, 'multipart/related; type="application/dicom"; transfer-syntax=*'));
    assert.equal(fast.result.status, 503);
    assert.ok(fast.ms < PROMPT_MS, `WADO-RS with the breaker open took ${fast.ms} ms`);
    const opened = g.logs.map((line) => JSON.parse(line) as { msg?: string; backend?: string }).filter((entry) => entry.msg === 'circuit breaker opened');
    assert.deepEqual(
      opened.map((entry) => entry.backend),
      ['remote'],
      'the opening is logged once, with the backend name',
    );
    assert.doesNotMatch(g.logs.join('\n'), /S3RVER|secretAccessKey/, 'no credential in the log');
  });

  it('shows the backend failing in /readyz (promptly) and in `aegis status`', async () => {
    const g = gw!;
    const ready = await timed(() => get(`${g.url}/readyz`));
    assert.equal(ready.result.status, 503);
    assert.ok(ready.ms < PROMPT_MS, `/readyz took ${ready.ms} ms`);
    const body = JSON.parse(ready.result.body.toString()) as { status: string; backends: Array<{ name: string; kind: string; state: string; latencyMs: number | null; error: string | null }> };
    assert.equal(body.status, 'unavailable');
    const byName = new Map(body.backends.map((b) => [b.name, b]));
    assert.equal(byName.get('local')?.state, 'ok');
    assert.equal(byName.get('local')?.kind, 'fs');
    assert.equal(byName.get('remote')?.kind, 's3');
    assert.equal(byName.get('remote')?.state, 'breaker-open');
    assert.equal(byName.get('remote')?.error, 'BACKEND_UNAVAILABLE');
    assert.doesNotMatch(ready.result.body.toString(), new RegExp(`${dataDir}|S3RVER|127\\.0\\.0\\.1`), 'no internal path, address or secret');

    const configFile = join(dataDir, 'test-config.json');
    const status = await runAegis(['status', '--json', '--timeout', '2', '--config', configFile, '--data', dataDir]);
    assert.equal(status.status, 1, status.stderr);
    const report = JSON.parse(status.stdout) as { status: string; backends: Array<{ name: string; state: string; latencyMs: number; error: string | null }> };
    assert.equal(report.status, 'unavailable');
    assert.deepEqual(
      report.backends.map((b) => [b.name, b.state, b.error]),
      [
        ['local', 'ok', null],
        ['remote', 'failing', 'BACKEND_TIMEOUT'],
      ],
    );
    const probe = report.backends[1].latencyMs;
    assert.ok(probe >= 1900 && probe < 2000 + PROMPT_MS, `the probe of the hanging backend took ${probe} ms, bounded by --timeout 2`);
  });
});
