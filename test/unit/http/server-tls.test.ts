import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { AuditTrail } from '../../../gateway/access/audit/trail.js';
import { loadConfig } from '../../../gateway/config.js';
import { createGatewayServer } from '../../../gateway/http/server.js';
import { createAuthority, type TestAuthority, type TestCertificate } from '../../support/tls-certs.js';

const quiet = { error: () => undefined, warn: () => undefined };

/** Opens a verified TLS connection to `port`, sends `request` and resolves to what the server wrote until it closed (or `waitMs` passed). */
function exchange(port: number, ca: Buffer, request: string, options: { maxVersion?: 'TLSv1.1' } = {}): Promise<{ socket: TLSSocket; text: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ...options }, () => {
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      const done = new Promise<string>((settle) => socket.once('close', () => settle(text)));
      socket.write(request);
      resolve({ socket, text: done });
    });
    socket.once('error', reject);
  });
}

describe('the HTTPS server (server.tls)', () => {
  let dir: string;
  let ca: TestAuthority;
  let cert: TestCertificate;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-server-tls-'));
    ca = createAuthority(dir);
    cert = ca.issue('server');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const serve = async (server: Record<string, unknown>, limits: Record<string, unknown> = {}) => {
    const config = loadConfig({ env: {}, object: { server: { ...server, tls: { certFile: cert.certFile, keyFile: cert.keyFile } }, limits } });
    const app = express().get('/hello', (_req, res) => void res.send('hello over TLS'));
    const gateway = createGatewayServer(app, { config, audit: {} as AuditTrail, logger: quiet });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    return { gateway, port: (gateway.address() as AddressInfo).port };
  };

  it('serves HTTPS with the timeouts of the configuration, the handshake bounded by the headers timeout', async () => {
    const { gateway, port } = await serve({ headersTimeoutSeconds: 2, requestTimeoutSeconds: 5, idleTimeoutSeconds: 7, keepAliveTimeoutSeconds: 3 });
    try {
      // node:tls keeps the handshake timeout under a symbol of its own.
      const handshake = Object.getOwnPropertySymbols(gateway).find((symbol) => symbol.description === 'handshake-timeout');
      const handshakeTimeout = handshake && (gateway as unknown as Record<symbol, unknown>)[handshake];
      assert.deepEqual([gateway.headersTimeout, gateway.requestTimeout, gateway.timeout, gateway.keepAliveTimeout, handshakeTimeout], [2000, 5000, 7000, 3000, 2000]);
      const { socket, text } = await exchange(port, ca.pem, 'GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      assert.equal(socket.getPeerCertificate().fingerprint256, cert.fingerprint);
      assert.ok(['TLSv1.2', 'TLSv1.3'].includes(socket.getProtocol()!));
      const response = await text;
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(response.endsWith('\r\n\r\nhello over TLS'), response);
    } finally {
      gateway.close();
    }
  });

  it('sends the intermediates of server.tls.caFile with a certificate file that holds the server certificate alone', async () => {
    const intermediate = ca.intermediate('intermediate');
    const leaf = intermediate.issue('leaf');
    const verifiedWith = async (tls: Record<string, string>) => {
      const config = loadConfig({ env: {}, object: { server: { tls } } });
      const gateway = createGatewayServer(express(), { config, audit: {} as AuditTrail, logger: quiet });
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
      try {
        const { socket } = await exchange((gateway.address() as AddressInfo).port, ca.pem, '');
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        socket.destroy();
        return fingerprint;
      } finally {
        gateway.close();
      }
    };
    assert.equal(await verifiedWith({ certFile: leaf.certFile, keyFile: leaf.keyFile, caFile: intermediate.certFile }), leaf.fingerprint);
    await assert.rejects(verifiedWith({ certFile: leaf.certFile, keyFile: leaf.keyFile }), (error: NodeJS.ErrnoException) => error.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses TLS 1.1', async () => {
    const { gateway, port } = await serve({});
    try {
      await assert.rejects(exchange(port, ca.pem, '', { maxVersion: 'TLSv1.1' }), (error: NodeJS.ErrnoException) => /ERR_SSL_(UNSUPPORTED_PROTOCOL|TLSV1_ALERT_PROTOCOL_VERSION|NO_PROTOCOLS_AVAILABLE)/.test(error.code ?? ''));
    } finally {
      gateway.close();
    }
  });

  it('negotiates forward-secret AEAD suites only: a client offering RSA key exchange or CBC suites alone is refused', async () => {
    // An RSA certificate: with one, Node's default list also accepts key exchange by RSA (no forward secrecy).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.pem', '-days', '2', '-subj', '/CN=rsa'], { cwd: dir, stdio: 'ignore' });
    chmodSync(join(dir, 'rsa.key'), 0o600);
    const config = loadConfig({ env: {}, object: { server: { tls: { certFile: join(dir, 'rsa.pem'), keyFile: join(dir, 'rsa.key') } } } });
    const gateway = createGatewayServer(express(), { config, audit: {} as AuditTrail, logger: quiet });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const port = (gateway.address() as AddressInfo).port;
    // The cipher suite and protocol a client offering `options` gets, or the handshake's error code.
    const negotiated = (options: { maxVersion?: 'TLSv1.2'; ciphers?: string }) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
          resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
          socket.destroy();
        });
        // The server's handshake_failure alert: OpenSSL 3.0 (Node 20) names it SSLV3_ALERT_, OpenSSL 3.5 (Node 24) SSL/TLS_ALERT_.
        socket.once('error', (error: NodeJS.ErrnoException) => resolve((error.code ?? error.message).replace(/^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE$/, 'refused')));
      });
    try {
      const refused = 'refused';
      assert.deepEqual(
        [
          await negotiated({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-GCM-SHA384' }),
          await negotiated({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384' }),
          await negotiated({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
          await negotiated({}),
        ],
        [refused, refused, 'TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256', 'TLSv1.3 TLS_AES_256_GCM_SHA384'],
      );
    } finally {
      gateway.close();
    }
  });

  it('answers the connection past limits.maxConnectionsPerClient with a 429 the TLS client can read', async () => {
    const { gateway, port } = await serve({}, { maxConnectionsPerClient: 1 });
    try {
      const held = await exchange(port, ca.pem, '');
      const refused = await exchange(port, ca.pem, 'GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const response = await refused.text;
      assert.match(response, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.ok(response.endsWith('{"error":{"code":"TOO_MANY_CONNECTIONS","message":"this client already holds 1 connections, the most allowed; close one or wait"}}'), response);
      held.socket.destroy();
    } finally {
      gateway.closeAllConnections();
      gateway.close();
    }
  });

  it('closes at once a connection past limits.maxConnectionsPerClient handshakes in progress, so that half-open handshakes cannot get round the cap', async () => {
    const { gateway, port } = await serve({ headersTimeoutSeconds: 60, requestTimeoutSeconds: 60 }, { maxConnectionsPerClient: 2 });
    const accepted: Socket[] = [];
    const clients: Socket[] = [];
    try {
      const allSeen = new Promise<void>((resolve) => {
        gateway.on('connection', (socket: Socket) => {
          accepted.push(socket);
          if (accepted.length === 5) resolve();
        });
      });
      // TCP connections that never send a ClientHello: each would hold a socket until the handshake timeout.
      for (let i = 0; i < 5; i++) clients.push(netConnect(port, '127.0.0.1'));
      await allSeen;
      assert.deepEqual(
        accepted.map((socket) => socket.destroyed),
        [false, false, true, true, true],
      );
      // Handshakes given up free their places: a client that finishes its handshake is served.
      for (const client of clients) client.destroy();
      await Promise.all(accepted.map((socket) => socket.closed || once(socket, 'close')));
      const { text } = await exchange(port, ca.pem, 'GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      assert.match(await text, /^HTTP\/1\.1 200 OK\r\n/);
    } finally {
      for (const client of clients) client.destroy();
      gateway.closeAllConnections();
      gateway.close();
    }
  });
});
