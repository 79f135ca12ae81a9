/**
 * Direct HTTPS (`server.tls`) of the gateway as users run it (`aegis start`, a primary and two
 * workers): a client that verifies the certificate against a private CA stores and retrieves an
 * instance; plain HTTP on the TLS port gets no answer; SIGHUP swaps the certificate for new
 * connections while a keep-alive connection opened before goes on; a broken replacement keeps the
 * certificate in use; a group-readable key is refused at start-up; and the warning about plain
 * HTTP beyond loopback appears once (not with TLS; loopback: `test/unit/cli/transport-notice.test.ts`).
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { syntheticInstance } from '../fixtures/synthetic.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { runAegis } from '../support/aegis-cli.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { running, until } from '../support/processes.js';
import { createAuthority, type TestAuthority, type TestCertificate } from '../support/tls-certs.js';

const PLAIN_TEXT_WARNING = 'PLAIN HTTP on';

/** The SHA-256 fingerprint of the certificate a new, verified TLS connection to `port` sees. */
function peerFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/** GET `path` through `agent` (keep-alive); the status, the certificate seen and whether the connection was reused. */
function getThrough(agent: HttpsAgent, port: number, path: string): Promise<{ status: number; fingerprint: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode!, fingerprint, reused: req.reusedSocket }));
    });
    req.once('error', reject);
    req.end();
  });
}

function portOf(gw: RunningGateway): number {
  return Number(new URL(gw.url).port);
}

/** Counts the gateway's log lines with `message`. */
function logged(gw: RunningGateway, message: string): number {
  return gw.logs.filter((line) => line.includes(message)).length;
}

describe('direct HTTPS (server.tls)', () => {
  let dir: string;
  let ca: TestAuthority;
  let first: TestCertificate;
  let second: TestCertificate;
  let gw: RunningGateway;
  let certFile: string;
  let keyFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-tls-'));
    ca = createAuthority(dir);
    first = ca.issue('first');
    second = ca.issue('second');
    certFile = join(dir, 'served.pem');
    keyFile = join(dir, 'served.key');
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    chmodSync(keyFile, 0o600);
    gw = await startGateway({ config: { server: { workers: 2, tls: { certFile, keyFile } } }, env: { AEGIS_HOST: '0.0.0.0' } });
  });

  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces an https URL and its certificate, and does not warn about plain HTTP', () => {
    assert.match(gw.url, /^https:\/\/0\.0\.0\.0:\d+$/);
    assert.equal(logged(gw, '"msg":"serving HTTPS"'), 1, gw.logs.join('\n'));
    assert.ok(gw.logs.some((l) => l.includes('"msg":"serving HTTPS"') && l.includes(first.fingerprint)));
    assert.equal(logged(gw, PLAIN_TEXT_WARNING), 0);
  });

  it('stores and retrieves an instance for a client that verifies the certificate', async () => {
    const dispatcher = new Agent({ connect: { ca: ca.pem } });
    try {
      const base = `https://127.0.0.1:${portOf(gw)}/dicom-web`;
      const instance = syntheticInstance({ seed: 41 });
      const { body, contentType } = stowBody([instance]);
      const stored = await fetch(`${base}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body, dispatcher });
      const json = (await stored.json()) as Record<string, any>;
      assert.equal(stored.status, 200, JSON.stringify(json));
      const retrieveUrl = json['00081199'].Value[0]['00081190'].Value[0] as string;
      assert.ok(retrieveUrl.startsWith(`https://127.0.0.1:${portOf(gw)}/dicom-web/studies/`), retrieveUrl);
      const res = await fetch(retrieveUrl, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' }, dispatcher });
      assert.equal(res.status, 200);
      const parts = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      assert.equal(parts.length, 1);
      assert.ok(parts[0].bytes.equals(instance), 'the bytes stored come back over HTTPS');
    } finally {
      await dispatcher.close();
    }
  });

  it('refuses a client that does not trust the private CA, and gives no answer to plain HTTP', async () => {
    await assert.rejects(fetch(`https://127.0.0.1:${portOf(gw)}/healthz`), (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const plain = new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: portOf(gw), path: '/healthz' }, (res) => resolve(res.statusCode!));
      req.once('error', reject);
      req.end();
    });
    await assert.rejects(plain, (error: NodeJS.ErrnoException) => /^(ECONNRESET|HPE_)/.test(error.code ?? ''));
  });

  it('passes the conformance suite (aegis conformance) over HTTPS with the private CA in NODE_EXTRA_CA_CERTS, and fails every check without it', async () => {
    const baseUrl = `https://127.0.0.1:${portOf(gw)}/dicom-web`;
    const trusted = await runAegis(['conformance', '--base-url', baseUrl], { env: { NODE_EXTRA_CA_CERTS: ca.certFile }, timeoutMs: 120_000 });
    assert.equal(trusted.status, 0, trusted.stdout + trusted.stderr);
    assert.match(trusted.stdout, new RegExp(`checks against ${baseUrl.replace(/[.]/g, '\\.')}: \\d+ passed, 0 failed`));
    const untrusted = await runAegis(['conformance', '--base-url', baseUrl], { unset: ['NODE_EXTRA_CA_CERTS'], timeoutMs: 120_000 });
    assert.equal(untrusted.status, 1);
    assert.match(untrusted.stdout, /: 0 passed, \d+ failed/);
    assert.match(untrusted.stdout, /unable to verify the first certificate/);
  });

  it('swaps the certificate on SIGHUP for new connections; a keep-alive connection and a STOW in flight opened before go on', async () => {
    const port = portOf(gw);
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: ca.pem });
    try {
      const before = await getThrough(agent, port, '/healthz');
      assert.deepEqual(before, { status: 200, fingerprint: first.fingerprint, reused: false });
      for (let i = 0; i < 4; i++) assert.equal(await peerFingerprint(port, ca.pem), first.fingerprint);
      // A STOW whose body is half sent when the certificate is swapped.
      const { body, contentType } = stowBody([syntheticInstance({ seed: 42 })]);
      let finishBody = () => {};
      let written = () => {};
      const halfSent = new Promise<void>((resolve) => (written = resolve));
      const inFlight = new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/dicom-web/studies', method: 'POST', ca: ca.pem, agent: false, headers: { 'Content-Type': contentType, 'Content-Length': body.length } }, (res) => {
          const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
          res.resume();
          res.once('end', () => resolve({ status: res.statusCode!, fingerprint }));
        });
        req.once('error', reject);
        req.write(body.subarray(0, 1000), () => written());
        finishBody = () => req.end(body.subarray(1000));
      });
      await halfSent;

      copyFileSync(second.certFile, certFile);
      copyFileSync(second.keyFile, keyFile);
      const reloads = logged(gw, 'the TLS certificate was reloaded');
      process.kill(gw.pid, 'SIGHUP');
      await until(() => logged(gw, 'the TLS certificate was reloaded') === reloads + 2, 'both workers to reload');

      // Consecutive connections go to both workers in turn.
      for (let i = 0; i < 4; i++) assert.equal(await peerFingerprint(port, ca.pem), second.fingerprint, `new connection ${i}`);
      const kept = await getThrough(agent, port, '/healthz');
      assert.deepEqual(kept, { status: 200, fingerprint: first.fingerprint, reused: true });
      finishBody();
      assert.deepEqual(await inFlight, { status: 200, fingerprint: first.fingerprint });
      assert.ok(running(gw.pid));
    } finally {
      agent.destroy();
    }
  });

  it('keeps the certificate in use when the replacement is broken, and logs why', async () => {
    const port = portOf(gw);
    const current = await peerFingerprint(port, ca.pem);
    const stranger = createAuthority(dir, 'stranger');
    copyFileSync(stranger.certFile, certFile); // a certificate that is not the key's
    const failures = logged(gw, 'reloading the TLS certificate failed');
    process.kill(gw.pid, 'SIGHUP');
    await until(() => logged(gw, 'reloading the TLS certificate failed') === failures + 2, 'both workers to refuse the new files');
    assert.ok(gw.logs.some((l) => l.includes('reloading the TLS certificate failed') && l.includes('cannot be used with certFile')));
    for (let i = 0; i < 4; i++) assert.equal(await peerFingerprint(port, ca.pem), current, `new connection ${i}`);
    assert.ok(running(gw.pid));
  });
});

describe('start-up checks of transport security', () => {
  it('refuses a TLS key that group or others may read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-tls-key-'));
    try {
      const cert = createAuthority(dir).issue('server');
      chmodSync(cert.keyFile, 0o640);
      writeFileSync(join(dir, 'aegis.json'), JSON.stringify({ server: { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } }));
      const run = await runAegis(['start', '--port', '0', '--data', join(dir, 'data'), '--config', join(dir, 'aegis.json')]);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /invalid configuration/);
      assert.ok(run.stderr.includes(`server.tls: keyFile ${cert.keyFile} has mode 640: group or others may read the private key; run 'chmod 600 ${cert.keyFile}'`), run.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns once, loudly, when plain HTTP listens beyond loopback (AEGIS_HOST=0.0.0.0, the variable of --host)', async () => {
    const gw = await startGateway({ config: { server: { workers: 2 } }, env: { AEGIS_HOST: '0.0.0.0' } });
    try {
      const warnings = gw.logs.filter((l) => l.includes(PLAIN_TEXT_WARNING));
      assert.equal(warnings.length, 1, gw.logs.join('\n'));
      const warning = JSON.parse(warnings[0]) as Record<string, unknown>;
      assert.equal(warning.level, 40);
      assert.equal(warning.host, '0.0.0.0');
      assert.match(String(warning.msg), /passwords, tokens and patient data included, crosses the network unencrypted; configure server\.tls/);
    } finally {
      await gw.stop();
    }
  });
});
