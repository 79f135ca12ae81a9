/**
 * `aegis healthcheck` asks GET /healthz on the port the configuration gives (AEGIS_PORT here),
 * against a real HTTP server of this test: 0 on 200, 1 on another status or no answer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { healthcheckCommand, reachableHost } from '../../../gateway/cli/healthcheck.js';
import { freePort } from '../../support/ports.js';
import { createAuthority } from '../../support/tls-certs.js';

async function run(argv: string[], env: NodeJS.ProcessEnv) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: new Writable({ write: (chunk, _e, done) => ((stdout += chunk.toString()), done()) }),
    stderr: new Writable({ write: (chunk, _e, done) => ((stderr += chunk.toString()), done()) }),
    env,
  };
  const status = await healthcheckCommand(['healthcheck', ...argv], io);
  return { status, stdout, stderr };
}

describe('aegis healthcheck', () => {
  let server: Server;
  let port: number;
  let answer = 200;
  const paths: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      res.writeHead(answer).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  it('is 0 when /healthz on AEGIS_PORT answers 200, on the loopback address for a wildcard host', async () => {
    const result = await run([], { AEGIS_PORT: String(port), AEGIS_HOST: '0.0.0.0' });
    assert.deepEqual(result, { status: 0, stdout: `http://127.0.0.1:${port}/healthz: live\n`, stderr: '' });
    assert.deepEqual(paths.at(-1), 'GET /healthz');
  });

  it('is 1 when /healthz answers another status', async () => {
    answer = 503;
    try {
      const result = await run([], { AEGIS_PORT: String(port) });
      assert.deepEqual(result, { status: 1, stdout: '', stderr: `aegis healthcheck: http://127.0.0.1:${port}/healthz answered 503\n` });
    } finally {
      answer = 200;
    }
  });

  it('is 1 when nothing listens on the port', async () => {
    const closed = await freePort();
    const result = await run(['--timeout', '2'], { AEGIS_PORT: String(closed) });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `aegis healthcheck: http://127.0.0.1:${closed}/healthz: no answer (ECONNREFUSED)\n`);
  });

  it('asks over HTTPS when the configuration has server.tls, whatever name the certificate has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-health-tls-'));
    const tlsServer = createHttpsServer({ ...readPair(createAuthority(dir).issue('site')) }, (req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
    try {
      await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
      const tlsPort = (tlsServer.address() as { port: number }).port;
      const config = join(dir, 'aegis.json');
      writeFileSync(config, JSON.stringify({ server: { port: tlsPort, tls: { certFile: join(dir, 'site.pem'), keyFile: join(dir, 'site.key') } } }));
      const result = await run(['--config', config], {});
      assert.deepEqual(result, { status: 0, stdout: `https://127.0.0.1:${tlsPort}/healthz: live\n`, stderr: '' });
      // Plain HTTP to the same port is no answer: the probe really spoke TLS above.
      writeFileSync(config, JSON.stringify({ server: { port: tlsPort } }));
      assert.equal((await run(['--config', config, '--timeout', '2'], {})).status, 1);
    } finally {
      tlsServer.closeAllConnections();
      tlsServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a wrong command line with exit 2', async () => {
    assert.equal((await run(['--timeout', 'soon'], {})).status, 2);
    assert.equal((await run(['extra'], {})).status, 2);
  });

  it('asks IPv6 hosts in brackets', () => {
    assert.equal(reachableHost('::1'), '[::1]');
    assert.equal(reachableHost('::'), '127.0.0.1');
    assert.equal(reachableHost('10.0.0.5'), '10.0.0.5');
  });
});

function readPair(certificate: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) };
}
