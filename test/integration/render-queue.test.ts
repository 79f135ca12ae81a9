/**
 * The queue of rendered images over real HTTP, against a gateway whose instances are on a real S3
 * server (s3rver) behind a gate of this file that holds every request while closed: renders that
 * got their place hang reading their instance, so the queue fills deterministically. With one
 * waiting place, a request that finds it taken gets 503 SERVER_BUSY with Retry-After at once; a
 * waiting request whose client resets its connection leaves the queue, so the next one may wait;
 * once the gate opens, every render still waited for is answered with its image, also to a client
 * that half-closed its connection after sending its request. A render whose instance is deleted
 * while it waits is answered as one of an instance that is not there, also when the instance's
 * verified bytes are still in the verified-instance cache.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startS3rver, type TestS3Server } from '../support/s3rver.js';

const BUCKET = 'aegis-render-queue';

/** A TCP proxy to `port` that, while closed, holds what clients send; `held()` counts the reads of first shards it held. */
async function startGate(port: number): Promise<{ port: number; close(): void; open(): void; held(): number; stop(): Promise<void> }> {
  let closed = false;
  let held: Array<() => void> = [];
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ port, host: '127.0.0.1' });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      if (!closed) return void upstream.write(chunk);
      // Every render reads the first shard (.0) of the instance once: held reads of it count renders in their place.
      if (/^GET \/[^ ]*\.0\?/.test(chunk.toString('latin1', 0, 200))) requests++;
      held.push(() => upstream.write(chunk));
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => void (closed = true),
    open() {
      closed = false;
      const pending = held;
      held = [];
      for (const send of pending) send();
    },
    held: () => requests,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** GETs `url` as image/png; `socket` gets the request's socket, to close it. */
function render(url: string, onSocket?: (socket: Socket) => void): Promise<{ status: number; retryAfter?: string; type?: string; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'image/png' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const type = res.headers['content-type'];
        const code = type === 'application/json' ? (JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code : undefined;
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], type, code });
      });
    });
    req.on('error', reject);
    req.on('socket', (socket) => onSocket?.(socket));
    req.end();
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), what);
}

describe('the queue of rendered images', () => {
  let s3: TestS3Server;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let gateway: TestGateway;
  let secrets: string;
  let url = '';

  before(async () => {
    s3 = await startS3rver([BUCKET]);
    gate = await startGate(Number(new URL(s3.endpoint).port));
    secrets = await mkdtemp(join(tmpdir(), 'aegis-render-queue-'));
    await writeFile(join(secrets, 's3.json'), JSON.stringify(s3.credentials), { mode: 0o600 });
    gateway = await startTestGateway({
      backends: [
        { name: 'local', kind: 'fs' },
        { name: 's3-gated', kind: 's3', endpoint: `http://127.0.0.1:${gate.port}`, region: 'us-east-1', bucket: BUCKET, forcePathStyle: true, credentialsFile: join(secrets, 's3.json'), timeoutSeconds: 120 },
      ],
      placement: { instances: 's3-gated' },
      protection: { verifiedCacheMiB: 0 },
      limits: { maxWaitingRenders: 1 },
    });
    const study = newUid();
    const series = newUid();
    const sop = newUid();
    const stored = await stow(gateway.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 64, columns: 64 })]);
    assert.equal(stored.status, 200, JSON.stringify(stored.json).slice(0, 300));
    url = `${gateway.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}/rendered`;
  });
  after(async () => {
    await gateway?.stop();
    await gate?.stop();
    await s3?.stop();
    await rm(secrets, { recursive: true, force: true });
  });

  it('refuses a render that finds the queue full with 503 and Retry-After; a waiting render whose client closed leaves the queue; the rest are answered', async () => {
    gate.close();
    const first = render(url);
    await until(() => gate.held() >= 1, 'the first render reads its instance');
    const second = render(url);
    await until(() => gate.held() >= 2, 'the second render reads its instance');
    // Both places are taken; of two more requests, one waits in the one waiting place and the other is refused at once.
    const sockets: Socket[] = [];
    const two = [render(url, (socket) => (sockets[0] = socket)), render(url, (socket) => (sockets[1] = socket))];
    const refused = await Promise.race([...two.map((answer, i) => answer.then((result) => ({ i, result }))), later(30_000)]);
    assert.ok(refused !== undefined, 'one of the two is answered at once');
    assert.deepEqual(refused.result, { status: 503, retryAfter: '1', type: 'application/json', code: 'SERVER_BUSY' });
    // The waiting client closes its connection (with a reset: a bare FIN looks like the half-close
    // the server allows, after which the answer is still sent): its place is free for the next request, which waits.
    const abandoned = two[1 - refused.i].catch((error: Error) => error);
    sockets[1 - refused.i].resetAndDestroy();
    assert.ok((await abandoned) instanceof Error, 'the closed request got no answer');
    let waiting: ReturnType<typeof render> | undefined;
    for (let i = 0; i < 50 && waiting === undefined; i++) {
      const next = render(url);
      // A refusal comes at once; 5 s without an answer (the gate holds every read) is a request that waits.
      const early = await Promise.race([next, later(5000)]);
      if (early === undefined) waiting = next;
      else assert.equal(early.status, 503, 'refused only while the closed request still held its place');
    }
    assert.ok(waiting !== undefined, 'a new request waits in the place the closed one left');
    gate.open();
    for (const answer of await Promise.all([first, second, waiting])) assert.deepEqual(answer, { status: 200, retryAfter: undefined, type: 'image/png', code: undefined });
    assert.equal(gate.held(), 2, 'only the first two renders were held; the closed one read nothing');
  });

  /**
   * Holds both rendering places of `on` with renders of `holding`, queues a render of a new instance
   * (first rendered once when `cached`), deletes that instance, then lets the reads go: the queued render's answer.
   */
  async function renderDeletedWhileWaiting(on: TestGateway, holding: string, cached: boolean): Promise<Awaited<ReturnType<typeof render>>> {
    const [study, series, sop] = [newUid(), newUid(), newUid()];
    const stored = await stow(on.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 32, columns: 32 })]);
    assert.equal(stored.status, 200);
    const instance = `${on.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`;
    if (cached) assert.equal((await render(`${instance}/rendered`)).status, 200, 'rendered once: verified and cached');
    const before = gate.held();
    gate.close();
    const held = [render(holding), render(holding)];
    await until(() => gate.held() === before + 2, 'two renders read their instance');
    const waiting = render(`${instance}/rendered`);
    assert.equal(await Promise.race([waiting, later(5000)]), undefined, 'the render of the other instance waits');
    // The DELETE destroys the key and removes the row at once; its removal of the stored pieces waits at the gate.
    const deleted = fetch(instance, { method: 'DELETE' });
    for (let i = 0; i < 600; i++) {
      const search = await fetch(`${on.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: { Accept: 'application/dicom+json' } });
      if (search.status === 204 || (await search.text()) === '[]') break;
      await later(50);
    }
    gate.open();
    for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    assert.equal((await deleted).status, 204);
    return waiting;
  }

  it('a render whose instance is deleted while it waits answers 404, not a failed verification', async () => {
    assert.deepEqual(await renderDeletedWhileWaiting(gateway, url, false), { status: 404, retryAfter: undefined, type: 'application/json', code: 'NOT_FOUND' });
  });

  it('a render whose instance is deleted while it waits answers 404, not the image of the deleted instance from the verified-instance cache', async () => {
    const cached = await startTestGateway({
      backends: [
        { name: 'local', kind: 'fs' },
        { name: 's3-gated', kind: 's3', endpoint: `http://127.0.0.1:${gate.port}`, region: 'us-east-1', bucket: BUCKET, forcePathStyle: true, credentialsFile: join(secrets, 's3.json'), timeoutSeconds: 120 },
      ],
      placement: { instances: 's3-gated' },
      limits: { maxWaitingRenders: 1 },
    });
    try {
      const [study, series, sop] = [newUid(), newUid(), newUid()];
      assert.equal((await stow(cached.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 64, columns: 64 })])).status, 200);
      const holding = `${cached.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}/rendered`;
      assert.deepEqual(await renderDeletedWhileWaiting(cached, holding, true), { status: 404, retryAfter: undefined, type: 'application/json', code: 'NOT_FOUND' });
    } finally {
      gate.open();
      await cached.stop();
    }
  });

  it('a client that half-closes its connection after its request still gets its image', async () => {
    const before = gate.held();
    gate.close();
    const target = new URL(url);
    const socket = createConnection({ port: Number(target.port), host: target.hostname });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.end(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: image/png\r\nConnection: close\r\n\r\n`);
    await until(() => gate.held() === before + 1, 'the render reads its instance');
    gate.open();
    await ended;
    const answer = Buffer.concat(chunks);
    assert.equal(answer.toString('latin1', 0, answer.indexOf('\r\n')), 'HTTP/1.1 200 OK');
    assert.match(answer.toString('latin1', 0, answer.indexOf('\r\n\r\n')), /\r\ncontent-type: image\/png\r\n/i);
    assert.equal(answer.subarray(answer.indexOf('\r\n\r\n') + 4, answer.indexOf('\r\n\r\n') + 8).toString('hex'), '89504e47', 'the PNG follows');
  });
});

/** Resolves with undefined after `ms` milliseconds (how long to wait for an answer that may never come). */
function later(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(resolve, ms, undefined));
}
