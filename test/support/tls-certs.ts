/**
 * Test certificates made with the `openssl` command: a private certificate authority, and server
 * certificates it signs for `localhost` and 127.0.0.1 (P-256 keys, valid 30 days), each with its
 * PEM files and SHA-256 fingerprint, the key written owner-only (mode 600).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its files. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as `X509Certificate.fingerprint256`). */
  fingerprint: string;
  pem: Buffer;
}

/** A private CA that signs server certificates into `dir`. */
export interface TestAuthority extends TestCertificate {
  /** A server certificate for localhost and 127.0.0.1, files named `name.pem` and `name.key`. */
  issue(name: string): TestCertificate;
  /** An intermediate CA signed by this one, files named `name.pem` and `name.key`. */
  intermediate(name: string): TestAuthority;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function certificateIn(dir: string, name: string): TestCertificate {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  chmodSync(keyFile, 0o600);
  const pem = readFileSync(certFile);
  return { certFile, keyFile, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Creates a CA in `dir` (`ca.pem`, `ca.key`). */
export function createAuthority(dir: string, name = 'ca'): TestAuthority {
  openssl(['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=Aegis test CA ${name}`], dir);
  return authority(dir, name);
}

/** The CA whose files are `name.pem` and `name.key` in `dir`. */
function authority(dir: string, name: string): TestAuthority {
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'intermediate.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n');
  const sign = (subject: string, extensions: string) => {
    openssl(['req', ...KEY, '-keyout', `${subject}.key`, '-out', `${subject}.csr`, '-subj', `/CN=${subject}`], dir);
    openssl(['x509', '-req', '-in', `${subject}.csr`, '-CA', `${name}.pem`, '-CAkey', `${name}.key`, '-CAcreateserial', '-out', `${subject}.pem`, '-days', '30', '-extfile', extensions], dir);
  };
  return {
    ...certificateIn(dir, name),
    issue(server: string) {
      sign(server, 'server.ext');
      return certificateIn(dir, server);
    },
    intermediate(sub: string) {
      sign(sub, 'intermediate.ext');
      return authority(dir, sub);
    },
  };
}
