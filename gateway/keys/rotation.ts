/**
 * Master key rotation (`aegis keys rotate`): every data key not wrapped under the active
 * master key is unwrapped with its old key and wrapped again under the active one. Fragments are
 * not touched: their ciphertext depends on the data key only, which does not change (the point of
 * envelope encryption; cryptoperiods of key-wrapping keys per NIST SP 800-57 Part 1). Works over any
 * {@link WrappedKeyStore}, so the catalog can hold the wrapped keys however it likes.
 */
import { GatewayError, isGatewayError } from '../errors.js';
import type { Keyring } from './keyring.js';

/** One wrapped data key as stored: `id` names its owner (e.g. the SOP Instance UID). */
export interface WrappedDataKey {
  readonly id: string;
  readonly keyId: string;
  readonly wrapped: Buffer;
}

/** Where wrapped data keys live (the catalog, once it has them). */
export interface WrappedKeyStore {
  /** Every wrapped data key. Records replaced while listing may or may not be listed again. */
  list(): AsyncIterable<WrappedDataKey>;
  /**
   * Replaces the record `next.id` with `next` only if it is still wrapped under `expectedKeyId`
   * (compare and set, so a concurrent rotation or delete is not overwritten). Resolves to whether
   * it was replaced.
   */
  replace(next: WrappedDataKey, expectedKeyId: string): Promise<boolean>;
}

/** What a rotation did. */
export interface RotationReport {
  /** The key everything is now wrapped under. */
  activeKeyId: string;
  /** Records listed. */
  examined: number;
  /** Records rewrapped under the active key. */
  rewrapped: number;
  /** Records already under the active key. */
  alreadyActive: number;
  /** Records changed or deleted by someone else meanwhile (left as they are). */
  skipped: number;
  /** Records that could not be unwrapped (unknown key id, or altered): left as they are. */
  failed: Array<{ id: string; keyId: string; reason: string }>;
}

/**
 * Rewraps every data key of `store` under the keyring's active key. A record that fails to unwrap
 * is reported in `failed` and the others carry on; other errors (the store failing) reject.
 */
export async function rewrapDataKeys(keyring: Keyring, store: WrappedKeyStore): Promise<RotationReport> {
  const active = keyring.active;
  if (active === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no master key to rewrap data keys with (set AEGIS_MASTER_KEY or run aegis keys generate)');
  const report: RotationReport = { activeKeyId: active.id, examined: 0, rewrapped: 0, alreadyActive: 0, skipped: 0, failed: [] };
  for await (const record of store.list()) {
    report.examined++;
    if (record.keyId === active.id) {
      report.alreadyActive++;
      continue;
    }
    let dataKey: Buffer;
    try {
      dataKey = keyring.unwrap(record);
    } catch (error) {
      if (!isGatewayError(error, 'KEY_NOT_FOUND') && !isGatewayError(error, 'INTEGRITY_FAILURE')) throw error;
      report.failed.push({ id: record.id, keyId: record.keyId, reason: error.message });
      continue;
    }
    try {
      const next = keyring.wrap(dataKey);
      if (await store.replace({ id: record.id, ...next }, record.keyId)) report.rewrapped++;
      else report.skipped++;
    } finally {
      dataKey.fill(0);
    }
  }
  return report;
}
