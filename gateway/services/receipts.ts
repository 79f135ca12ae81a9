/**
 * Signed STOW receipts: for every instance a STOW stores, a compact JWS (RFC 7515, EdDSA over
 * Ed25519, `typ` `aegis-receipt+jws`) that the client can keep and a hospital can later show to
 * prove what was stored and when: the SHA-256 and length of the bytes received, their UIDs, the
 * time and the gateway. The public keys are published at {@link RECEIPT_KEYS_PATH} as a JWK set
 * (for every master key of the keyring, so that receipts signed before a rotation keep verifying),
 * and `aegis receipt verify` checks a receipt offline against such a set.
 */
import { CompactSign, compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { GatewayError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { receiptKey } from '../keys/receipt-keys.js';

/** Where the gateway publishes the public keys of its receipts (no authentication: they are public). */
export const RECEIPT_KEYS_PATH = '/.well-known/aegis-receipt-keys';
/** The `typ` header of a receipt. */
export const RECEIPT_TYPE = 'aegis-receipt+jws';

/** What a receipt states. */
export interface Receipt {
  /** Format version. */
  v: 1;
  /** The gateway that stored the instance (`protection.gatewayId`). */
  iss: string;
  /** When the STOW stored it (ISO 8601, UTC). */
  storedAt: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** SHA-256 (hex) and length of the bytes received: exactly what WADO-RS returns with `transfer-syntax=*`. */
  sha256: string;
  length: number;
}

/** Signs `receipt` with the receipt key of the keyring's active master key. */
export async function signReceipt(keyring: Keyring, receipt: Receipt): Promise<string> {
  const master = keyring.active;
  if (master === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no master key to sign receipts with');
  const key = await receiptKey(master);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(receipt))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: RECEIPT_TYPE }).sign(key.privateKey);
}

/** The public receipt keys of every master key in the keyring. */
export async function receiptKeySet(keyring: Keyring): Promise<JSONWebKeySet> {
  return { keys: await Promise.all(keyring.keys.map(async (master) => (await receiptKey(master)).publicJwk)) };
}

/**
 * The receipt a compact JWS states, when its signature verifies under a key of `keys` (EdDSA
 * only, `typ` {@link RECEIPT_TYPE}) and its payload has the receipt's shape; throws
 * RECEIPT_INVALID saying why otherwise.
 */
export async function verifyReceipt(jws: string, keys: JSONWebKeySet): Promise<{ receipt: Receipt; kid: string }> {
  let verified: Awaited<ReturnType<typeof compactVerify>>;
  try {
    verified = await compactVerify(jws.trim(), createLocalJWKSet(keys), { algorithms: ['EdDSA'] });
  } catch (error) {
    throw new GatewayError('RECEIPT_INVALID', `the receipt does not verify: ${(error as Error).message}`, { cause: error });
  }
  if (verified.protectedHeader.typ !== RECEIPT_TYPE) throw new GatewayError('RECEIPT_INVALID', `not a receipt (typ ${JSON.stringify(verified.protectedHeader.typ)})`);
  let receipt: Receipt;
  try {
    receipt = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(verified.payload)) as Receipt;
  } catch (error) {
    throw new GatewayError('RECEIPT_INVALID', 'the receipt payload is not JSON', { cause: error });
  }
  const strings = ['iss', 'storedAt', 'studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid', 'sopClassUid', 'sha256'] as const;
  if (receipt?.v !== 1 || strings.some((field) => typeof receipt[field] !== 'string') || !Number.isSafeInteger(receipt.length) || !/^[0-9a-f]{64}$/.test(receipt.sha256)) {
    throw new GatewayError('RECEIPT_INVALID', 'the receipt payload is not a version 1 receipt');
  }
  return { receipt, kid: verified.protectedHeader.kid ?? '' };
}
