/**
 * The `server.tls` section of the configuration: the files of the certificate the gateway serves
 * HTTPS with (RFC 8446 / RFC 5246; TLS 1.2 at least, forward-secret AEAD suites only), and how
 * they are read. They are read at start-up, where every problem is reported with the rest of the
 * configuration, and again on SIGHUP (`http/tls.ts`), through the same {@link readTlsFiles}:
 *
 * - the certificate file (PEM, the leaf first, then any intermediates) and the key file (PEM) must
 *   exist and belong together;
 * - the key file, and the passphrase file of an encrypted key, must be the owner's alone: a key
 *   that group or others may read is refused (not re-moded: it may already have been read), as the
 *   data directory and the master keys are;
 * - the CA file is optional: the intermediate certificates between the server's certificate and
 *   the root clients trust, for a certificate file that holds the server's certificate alone
 *   (OpenSSL builds the chain it sends from them).
 *
 * Paths are resolved against the working directory, like every other path of the configuration.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

const PATH = z
  .string()
  .min(1)
  .transform((path) => resolve(path));

/** `server.tls`: absent, the gateway serves plain HTTP (behind a TLS-terminating proxy, or on loopback). */
export const Tls = z
  .strictObject({
    /** PEM certificate chain: the server's certificate first, then its intermediates. */
    certFile: PATH,
    /** PEM private key of the certificate; owner-only (mode 600 or stricter). */
    keyFile: PATH,
    /** PEM intermediate certificates sent with the server's when certFile holds it alone (optional). */
    caFile: PATH.optional(),
    /** File holding the passphrase of an encrypted key (first line); owner-only. */
    passphraseFile: PATH.optional(),
  })
  .check((ctx) => {
    try {
      readTlsFiles(ctx.value);
    } catch (error) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: (error as Error).message });
    }
  })
  .optional();

/** The validated `server.tls` section. */
export type TlsConfig = NonNullable<z.infer<typeof Tls>>;

/**
 * The cipher suites offered: TLS 1.3's, and for TLS 1.2 only those with forward secrecy (ECDHE,
 * DHE) and authenticated encryption (GCM, ChaCha20-Poly1305). Node's default list also takes RSA
 * key exchange, under which whoever later gets the private key decrypts every recorded session,
 * and CBC with SHA-1.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
].join(':');

/** What {@link readTlsFiles} read: the options of a secure context, and what identifies the certificate. */
export interface TlsFiles {
  /** Options for `https.createServer` and `server.setSecureContext` (minimum version and cipher suites included). */
  options: SecureContextOptions & { minVersion: 'TLSv1.2'; ciphers: string };
  /** SHA-256 fingerprint of the server's certificate, colon-separated hex (as `openssl x509 -fingerprint -sha256`). */
  fingerprint: string;
  /** The certificate's subject. */
  subject: string;
  /** When the certificate comes into force (its notBefore). */
  validFrom: Date;
  /** When the certificate expires (its notAfter). */
  validTo: Date;
}

/** Permission bits that let group or others in. */
const NOT_OWNER_ONLY = 0o077;

/**
 * Reads and checks the files of `server.tls`; throws an Error saying which file is wrong and how
 * to fix it when a file is missing or unreadable, a key is not owner-only, or the key does not
 * match the certificate.
 */
export function readTlsFiles(tls: TlsConfig): TlsFiles {
  const cert = readPem(tls.certFile, 'certFile');
  refuseExposed(tls.keyFile, 'keyFile');
  const key = readPem(tls.keyFile, 'keyFile');
  const ca = tls.caFile === undefined ? undefined : readPem(tls.caFile, 'caFile');
  let passphrase: string | undefined;
  if (tls.passphraseFile !== undefined) {
    refuseExposed(tls.passphraseFile, 'passphraseFile');
    passphrase = readPem(tls.passphraseFile, 'passphraseFile').toString('utf8').split(/\r?\n/)[0];
  }
  const options = { cert, key, ca, passphrase, minVersion: 'TLSv1.2' as const, ciphers: TLS_CIPHERS };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`certFile ${tls.certFile} holds no PEM certificate (${(error as Error).message})`, { cause: error });
  }
  try {
    createSecureContext(options);
  } catch (error) {
    throw new Error(`keyFile ${tls.keyFile} cannot be used with certFile ${tls.certFile}: ${(error as Error).message} (a key that is not the certificate's, an encrypted key without its passphraseFile, or a file that is not PEM)`, {
      cause: error,
    });
  }
  return { options, fingerprint: leaf.fingerprint256, subject: leaf.subject, validFrom: new Date(leaf.validFrom), validTo: new Date(leaf.validTo) };
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${field} ${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

/** Refuses a secret file that group or others may access (file modes mean nothing on Windows). */
function refuseExposed(path: string, field: string): void {
  if (process.platform === 'win32') return;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new Error(`${field} ${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if ((mode & NOT_OWNER_ONLY) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(3, '0');
  throw new Error(`${field} ${path} has mode ${octal}: group or others may read the private key; run 'chmod 600 ${path}' (owned by the gateway's user) and consider the key exposed`);
}
