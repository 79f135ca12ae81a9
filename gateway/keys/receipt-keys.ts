/**
 * The keys that sign STOW receipts: one Ed25519 key pair per master key, its 32-byte seed derived
 * from the master key (HKDF, purpose `aegis receipt v1`), so that every process of the gateway signs
 * with the same key, nothing new has to be stored or backed up, and the public keys can be published
 * for all master keys in the keyring (receipts signed before a rotation keep verifying). The key id
 * is the public key's JWK thumbprint (RFC 7638): it names the key without naming the master key.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { deriveKey } from './derive.js';
import type { MasterKey } from './master-key.js';

/** The PKCS #8 DER prefix of an Ed25519 private key (RFC 8410 §7), followed by its 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A receipt signing key: the private key and its public JWK (with `kid`, `alg` and `use`). */
export interface ReceiptKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

const keys = new WeakMap<MasterKey, Promise<ReceiptKey>>();

/** The receipt signing key of `master` (derived once per process). */
export function receiptKey(master: MasterKey): Promise<ReceiptKey> {
  let key = keys.get(master);
  if (key === undefined) keys.set(master, (key = derive(master)));
  return key;
}

async function derive(master: MasterKey): Promise<ReceiptKey> {
  const seed = deriveKey(master.secret, 'aegis receipt v1');
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(jwk);
    return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'EdDSA', use: 'sig' } };
  } finally {
    seed.fill(0);
    der.fill(0);
  }
}
