/**
 * Slow and greedy clients against a gateway with short, configured timeouts (raw sockets): a body
 * announced but never sent, a body sent a byte at a time (an unauthenticated STOW-RS included),
 * headers never finished, and more connections from one address than allowed. Each is answered or
 * closed within a bounded time and audited; an upload at an honest rate longer than the grace
 * period is stored.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { rawRequest } from '../support/raw-http.js';
import { readTrail } from '../support/trail.js';

const TIMEOUTS = { headersTimeoutSeconds: 1, requestTimeoutSeconds: 30, idleTimeoutSeconds: 30 };
const LIMITS = { minBodyBytesPerSecond: 2000, bodyRateGraceSeconds: 1, maxConnectionsPerClient: 4 };

/** What happened on a raw connection: the bytes received, and after how many ms the server closed it (undefined: still open at `waitMs`). */
interface Exchange {
  received: string;
  closedAfterMs?: number;
  status?: number;
}

/**
 * Opens a connection, writes `head`, then `trickle` one byte every `everyMs` ms (never ending the
 * request), and reports what the server did within `waitMs`.
 */
function slowExchange(url: string, head: string, options: { trickle?: Buffer; everyMs?: number; waitMs: number }): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let received = '';
    let sent = 0;
    let drip: NodeJS.Timeout | undefined;
    const finish = (closedAfterMs?: number) => {
      clearInterval(drip);
      clearTimeout(deadline);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      resolve({ received, closedAfterMs, status: status === undefined ? undefined : Number(status) });
    };
    const deadline = setTimeout(() => finish(undefined), options.waitMs);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => finish(Date.now() - started));
    socket.write(head);
    if (options.trickle) {
      drip = setInterval(() => {
        if (sent < options.trickle!.length && !socket.destroyed) socket.write(options.trickle!.subarray(sent, ++sent));
      }, options.everyMs ?? 300);
    }
  });
}

/** An idle connection (no request), open until closed. */
function idleConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('slow clients', { timeout: 120_000 }, () => {
  let secure: TestGateway;
  let open: TestGateway;

  before(async () => {
    secure = await startTestGateway({ server: TIMEOUTS, limits: LIMITS, auth: { bootstrapAdmin: false } });
    open = await startTestGateway({ server: TIMEOUTS, limits: LIMITS });
  });
  after(async () => {
    await secure?.stop();
    await open?.stop();
  });

  it('a body announced but never sent to POST /auth/token: 408 and the connection closed after the grace period', async () => {
    const head = 'POST /auth/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-token\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n';
    const exchanges = await Promise.all(Array.from({ length: 3 }, () => slowExchange(secure.url, head, { waitMs: 8000 })));
    for (const exchange of exchanges) {
      assert.equal(exchange.status, 408, exchange.received);
      assert.match(exchange.received, /"code":"REQUEST_TIMEOUT"/);
      assert.ok(exchange.closedAfterMs !== undefined && exchange.closedAfterMs < 4000, `closed after ${exchange.closedAfterMs} ms`);
    }
    const event = (await readTrail(secure.dataDir)).events.find((e) => e.requestId === 'slow-token');
    assert.equal(event?.http?.status, 408, 'the refusal is audited');
  });

  it('an unauthenticated STOW-RS body sent a byte at a time: 401, then the connection closed', async () => {
    const head = `POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/related; type="application/dicom"; boundary=b\r\nContent-Length: 100000\r\n\r\n`;
    const exchange = await slowExchange(secure.url, head, { trickle: Buffer.alloc(100, 0x41), everyMs: 200, waitMs: 8000 });
    assert.equal(exchange.status, 401);
    assert.ok(exchange.closedAfterMs !== undefined && exchange.closedAfterMs < 4000, `closed after ${exchange.closedAfterMs} ms`);
  });

  it('a body sent a byte at a time to an open STOW-RS: 408 and closed', async () => {
    const head = `POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/related; type="application/dicom"; boundary=b\r\nContent-Length: 100000\r\n\r\n`;
    const exchange = await slowExchange(open.url, head, { trickle: Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'), everyMs: 200, waitMs: 8000 });
    assert.equal(exchange.status, 408, exchange.received);
    assert.ok(exchange.closedAfterMs !== undefined && exchange.closedAfterMs < 4000, `closed after ${exchange.closedAfterMs} ms`);
  });

  it('headers never finished: 408 after the headers timeout, audited', async () => {
    const exchange = await slowExchange(secure.url, 'GET /dicom-web/studies HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-headers\r\n', { trickle: Buffer.from('X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'), everyMs: 300, waitMs: 8000 });
    assert.equal(exchange.status, 408, exchange.received);
    assert.ok(exchange.closedAfterMs !== undefined && exchange.closedAfterMs < 4000, `closed after ${exchange.closedAfterMs} ms`);
  });

  it('more connections from one address than allowed: the excess is refused at once with 429', async () => {
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnectionsPerClient }, () => idleConnection(open.url)));
    try {
      const started = Date.now();
      const excess = await slowExchange(open.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { waitMs: 5000 });
      assert.equal(excess.status, 429, excess.received);
      assert.match(excess.received, /"code":"TOO_MANY_CONNECTIONS"/);
      assert.ok(Date.now() - started < 2000, `refused after ${Date.now() - started} ms`);
      held.pop()!.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await rawRequest(`${open.url}/healthz`)).status, 200, 'a connection is accepted again once one closed');
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it('an upload at an honest rate that lasts longer than the grace period is stored', async () => {
    const { body, contentType } = stowBody([syntheticInstance({ studyInstanceUID: newUid(), seed: 21, rows: 128, columns: 128 })]);
    const pieces = 15;
    const chunks = Array.from({ length: pieces }, (_, i) => body.subarray(Math.floor((i * body.length) / pieces), Math.floor(((i + 1) * body.length) / pieces)));
    const res = await rawRequest(`${open.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length }, body: chunks, chunkDelayMs: 200 });
    assert.equal(res.status, 200, res.body.toString());
  });
});
