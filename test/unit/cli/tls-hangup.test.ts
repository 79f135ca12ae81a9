/**
 * SIGHUP and the TLS certificate in one gateway process (`gateway/cli/tls-hangup.ts`), this test
 * being that process: a SIGHUP that arrives while the gateway is still starting (opening and
 * migrating its catalog, which can take long after an upgrade) must not end it, as a certificate
 * renewal hook or `systemctl reload` may send one at any time; once it listens, SIGHUP reloads the
 * certificate. The cluster's primary and workers: test/integration/tls.test.ts.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, describe, it } from 'node:test';
import { startServer } from '../../../gateway/cli/start.js';
import { loadConfig } from '../../../gateway/config.js';
import { OPEN_ACCESS } from '../../support/in-process.js';
import { until } from '../../support/processes.js';
import { createAuthority } from '../../support/tls-certs.js';

/** The SHA-256 fingerprint of the certificate a new, verified TLS connection to `port` sees. */
function peerFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('SIGHUP in a gateway of one process with server.tls', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-hangup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is caught while the gateway starts, which goes on to listen; once it listens, it reloads the certificate', async () => {
    const ca = createAuthority(dir);
    const first = ca.issue('first');
    const second = ca.issue('second');
    const [certFile, keyFile] = [join(dir, 'served.pem'), join(dir, 'served.key')];
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    const config = loadConfig({ env: {}, object: { ...OPEN_ACCESS, log: { level: 'silent' }, dataDir: join(dir, 'data'), server: { port: 0, tls: { certFile, keyFile } } } });
    const starting = startServer(config);
    process.kill(process.pid, 'SIGHUP'); // the catalog is still being opened
    const running = await starting;
    try {
      const port = Number(new URL(running.url).port);
      assert.equal(await peerFingerprint(port, ca.pem), first.fingerprint);
      copyFileSync(second.certFile, certFile);
      copyFileSync(second.keyFile, keyFile);
      process.kill(process.pid, 'SIGHUP');
      await until(async () => (await peerFingerprint(port, ca.pem)) === second.fingerprint, 'the certificate reloaded');
    } finally {
      await running.close();
    }
  });
});
