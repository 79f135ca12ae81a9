import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { announceTransport, isLoopbackHost } from '../../../gateway/cli/transport-notice.js';
import { loadConfig } from '../../../gateway/config.js';
import { createAuthority } from '../../support/tls-certs.js';

/** A logger that keeps what it is told, by level. */
function recorder() {
  const lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (details: Record<string, unknown>, message: string) => void lines.push({ level, details, message });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('the start-up notice about transport security', () => {
  it('tells loopback addresses from the others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.10', 'fd00::1', 'pacs-gw.example.org', '128.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
  });

  it('warns once about plain HTTP beyond loopback, and says nothing on loopback', () => {
    const beyond = recorder();
    announceTransport(loadConfig({ env: {}, flags: { host: '0.0.0.0', port: 8443 } }), beyond.logger);
    assert.equal(beyond.lines.length, 1);
    assert.equal(beyond.lines[0].level, 'warn');
    assert.deepEqual(beyond.lines[0].details, { host: '0.0.0.0', port: 8443, docs: 'docs/tls.md' });
    assert.equal(
      beyond.lines[0].message,
      'PLAIN HTTP on 0.0.0.0, beyond the loopback interface: everything sent to and from the gateway, passwords, tokens and patient data included, crosses the network unencrypted; configure server.tls, or listen on 127.0.0.1 behind a TLS-terminating reverse proxy (docs/tls.md)',
    );
    const loopback = recorder();
    announceTransport(loadConfig({ env: {} }), loopback.logger);
    assert.deepEqual(loopback.lines, []);
  });

  it('with TLS beyond loopback, names the certificate instead of warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-notice-'));
    try {
      const cert = createAuthority(dir).issue('server');
      const notice = recorder();
      announceTransport(loadConfig({ env: {}, flags: { host: '0.0.0.0' }, object: { server: { tls: { certFile: cert.certFile, keyFile: cert.keyFile } } } }), notice.logger);
      assert.deepEqual(
        notice.lines.map((l) => [l.level, l.message, l.details.fingerprint]),
        [['info', 'serving HTTPS', cert.fingerprint]],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
