import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../gateway/config.js';
import { readTlsFiles } from '../../gateway/config-tls.js';
import { configProblems } from '../support/config-problems.js';
import { createAuthority, type TestCertificate } from '../support/tls-certs.js';

describe('server.tls configuration', () => {
  let dir: string;
  let server: TestCertificate;
  let other: TestCertificate;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-config-tls-'));
    const ca = createAuthority(dir);
    server = ca.issue('server');
    other = ca.issue('other');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tlsConfig = (tls: Record<string, unknown>) => ({ server: { tls } });

  it('is absent by default, and resolves the paths of its files', () => {
    assert.equal(loadConfig({ env: {} }).server.tls, undefined);
    const config = loadConfig({ env: {}, object: tlsConfig({ certFile: relative(process.cwd(), server.certFile), keyFile: server.keyFile }) });
    assert.deepEqual(config.server.tls, { certFile: server.certFile, keyFile: server.keyFile });
    const files = readTlsFiles(config.server.tls!);
    assert.equal(files.fingerprint, server.fingerprint);
    assert.equal(files.subject, 'CN=server');
    assert.equal(files.options.minVersion, 'TLSv1.2');
  });

  it('refuses missing files, unknown fields, and a key that is not the certificate’s', () => {
    assert.deepEqual(configProblems(tlsConfig({ certFile: server.certFile })), ['server.tls.keyFile: Invalid input: expected string, received undefined']);
    assert.deepEqual(configProblems(tlsConfig({ certFile: server.certFile, keyFile: server.keyFile, cipher: 'x' })), ['server.tls: Unrecognized key: "cipher"']);
    const missing = join(dir, 'missing.pem');
    assert.deepEqual(configProblems(tlsConfig({ certFile: missing, keyFile: server.keyFile })), [`server.tls: certFile ${missing} cannot be read: ENOENT: no such file or directory, open '${missing}'`]);
    const [mismatch] = configProblems(tlsConfig({ certFile: server.certFile, keyFile: other.keyFile }));
    assert.match(mismatch, new RegExp(`^server\\.tls: keyFile ${other.keyFile} cannot be used with certFile ${server.certFile}: .*key values mismatch`));
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'not a certificate');
    assert.match(configProblems(tlsConfig({ certFile: notPem, keyFile: server.keyFile }))[0], new RegExp(`^server\\.tls: certFile ${notPem} holds no PEM certificate`));
  });

  it('refuses a key file, or a passphrase file, that group or others may read', () => {
    const exposed = join(dir, 'exposed.key');
    copyFileSync(server.keyFile, exposed);
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(exposed, mode);
      assert.deepEqual(configProblems(tlsConfig({ certFile: server.certFile, keyFile: exposed })), [
        `server.tls: keyFile ${exposed} has mode ${mode.toString(8)}: group or others may read the private key; run 'chmod 600 ${exposed}' (owned by the gateway's user) and consider the key exposed`,
      ]);
    }
    chmodSync(exposed, 0o400);
    assert.deepEqual(configProblems(tlsConfig({ certFile: server.certFile, keyFile: exposed })), []);
    const passphrase = join(dir, 'exposed-passphrase');
    writeFileSync(passphrase, 'secret\n', { mode: 0o644 });
    assert.match(configProblems(tlsConfig({ certFile: server.certFile, keyFile: server.keyFile, passphraseFile: passphrase }))[0], /^server\.tls: passphraseFile .* has mode 644/);
  });

  it('opens an encrypted key with its passphrase file, and refuses it without', () => {
    const encrypted = join(dir, 'encrypted.key');
    execFileSync('openssl', ['pkey', '-in', server.keyFile, '-aes256', '-passout', 'pass:correct horse', '-out', encrypted]);
    chmodSync(encrypted, 0o600);
    const passphrase = join(dir, 'passphrase');
    writeFileSync(passphrase, 'correct horse\n', { mode: 0o600 });
    assert.deepEqual(configProblems(tlsConfig({ certFile: server.certFile, keyFile: encrypted, passphraseFile: passphrase })), []);
    const wrong = join(dir, 'wrong-passphrase');
    writeFileSync(wrong, 'battery staple\n', { mode: 0o600 });
    for (const tls of [
      { certFile: server.certFile, keyFile: encrypted },
      { certFile: server.certFile, keyFile: encrypted, passphraseFile: wrong },
    ]) {
      assert.match(configProblems(tlsConfig(tls))[0], new RegExp(`^server\\.tls: keyFile ${encrypted} cannot be used with certFile`));
    }
  });
});
