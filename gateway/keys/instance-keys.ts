/**
 * Per-instance keys that can be destroyed (crypto-shredding). The fragments of an instance are
 * sealed under an instance key derived (HKDF-SHA-256, RFC 5869) from two secrets:
 *
 * - the data key, wrapped by a master key (`envelope.ts`) and kept in the signed manifest, which
 *   lives in the catalog and in the manifest copy on a backend;
 * - the shred key, 256 random bits kept only in the shred key vault ({@link ShredKeyStore}), a
 *   store on the gateway's side that can really delete.
 *
 * Deleting an instance destroys its shred key: from then on nothing the gateway holds (master keys,
 * catalog, manifest copies) derives the instance key, so fragments left on a store that cannot
 * delete for certain (IPFS blocks other nodes fetched, versioned buckets, a PACS with a trash) are
 * unreadable. Key rotation rewraps the data key only; the shred key and the fragments stay as they
 * are. Manifests written before shred keys existed carry no `shredKeyId`: their data key is the
 * instance key, as before, and deleting them destroys nothing (their manifest copies still open).
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { deriveKey } from './derive.js';
import { generateDataKey, KEY_BYTES } from './envelope.js';
import type { Keyring } from './keyring.js';

/** The data key of an instance as its manifest records it. */
export interface RecordedDataKey {
  /** Id of the master key that wraps the data key. */
  keyId: string;
  /** The wrapped data key, base64. */
  wrapped: string;
  /** Id of the instance's shred key in the vault; absent in manifests written before shred keys. */
  shredKeyId?: string;
}

/**
 * The shred key vault: secrets by id, kept where a delete really deletes. Synchronous, as the
 * protection pipeline is.
 */
export interface ShredKeyStore {
  /** Stores a new shred key (an id is never reused). */
  add(id: string, secret: Uint8Array): void;
  /** The shred key of `id` (a fresh copy the caller may wipe), or undefined when it was destroyed. */
  find(id: string): Buffer | undefined;
  /** Destroys the shred keys of `ids` beyond recovery; returns how many existed. */
  destroy(ids: readonly string[]): number;
  /**
   * Resolves once every key added before the call is durable (a crash of the machine keeps it);
   * nothing sealed under a key may be acknowledged before.
   */
  persist(): Promise<void>;
}

/** Shred key ids: 128 random bits in hex. */
const SHRED_KEY_ID = /^[0-9a-f]{32}$/;

/** A fresh instance key: its data key wrapped under the active master key, its shred key in the vault. */
export function newInstanceKey(keyring: Keyring): { instanceKey: Buffer; record: RecordedDataKey } {
  const vault = keyring.shredKeys;
  const dataKey = generateDataKey();
  const shredKey = randomBytes(KEY_BYTES);
  try {
    const { keyId, wrapped } = keyring.wrap(dataKey);
    const shredKeyId = randomBytes(16).toString('hex');
    vault.add(shredKeyId, shredKey);
    return { instanceKey: combine(dataKey, shredKey, shredKeyId), record: { keyId, wrapped: wrapped.toString('base64'), shredKeyId } };
  } finally {
    dataKey.fill(0);
    shredKey.fill(0);
  }
}

/**
 * The instance key of a recorded data key. Throws `KEY_NOT_FOUND` when the master key is unknown or
 * the shred key is not in the vault (the instance was deleted), `INTEGRITY_FAILURE` when the
 * wrapped key does not authenticate.
 */
export function openInstanceKey(keyring: Keyring, record: RecordedDataKey): Buffer {
  const dataKey = keyring.unwrap({ keyId: record.keyId, wrapped: Buffer.from(record.wrapped, 'base64') });
  if (record.shredKeyId === undefined) return dataKey; // written before shred keys: the data key seals the fragments
  try {
    if (!SHRED_KEY_ID.test(record.shredKeyId)) throw new GatewayError('INTEGRITY_FAILURE', 'the manifest names a malformed shred key id');
    const shredKey = keyring.shredKeys.find(record.shredKeyId);
    if (shredKey === undefined) throw new GatewayError('KEY_NOT_FOUND', `shred key ${record.shredKeyId} is not in the vault: the instance was deleted (or the vault was lost)`);
    try {
      return combine(dataKey, shredKey, record.shredKeyId);
    } finally {
      shredKey.fill(0);
    }
  } finally {
    dataKey.fill(0);
  }
}

/** Destroys the shred keys of recorded data keys; returns how many were in the vault. */
export function destroyInstanceKeys(keyring: Keyring, records: ReadonlyArray<RecordedDataKey | undefined>): number {
  const ids = records.map((r) => r?.shredKeyId).filter((id): id is string => id !== undefined);
  return ids.length === 0 ? 0 : keyring.shredKeys.destroy(ids);
}

/** HKDF over data key and shred key, bound to the shred key id: neither secret alone gives the instance key. */
function combine(dataKey: Uint8Array, shredKey: Uint8Array, shredKeyId: string): Buffer {
  const material = Buffer.concat([dataKey, shredKey]);
  try {
    return deriveKey(material, `aegis instance key v1 ${shredKeyId}`);
  } finally {
    material.fill(0);
  }
}

/** A {@link ShredKeyStore} in memory (tests, and the reference behaviour). */
export class MemoryShredKeyStore implements ShredKeyStore {
  readonly #keys = new Map<string, Buffer>();

  add(id: string, secret: Uint8Array): void {
    if (this.#keys.has(id)) throw new GatewayError('INTERNAL', `shred key ${id} exists already`);
    this.#keys.set(id, Buffer.from(secret));
  }

  find(id: string): Buffer | undefined {
    const key = this.#keys.get(id);
    return key === undefined ? undefined : Buffer.from(key);
  }

  destroy(ids: readonly string[]): number {
    let destroyed = 0;
    for (const id of ids) {
      const key = this.#keys.get(id);
      if (key === undefined) continue;
      key.fill(0);
      this.#keys.delete(id);
      destroyed++;
    }
    return destroyed;
  }

  /** Counts the calls: memory is as durable as it gets. */
  persisted = 0;

  persist(): Promise<void> {
    this.persisted++;
    return Promise.resolve();
  }

  /** Number of shred keys held. */
  get size(): number {
    return this.#keys.size;
  }
}
