/**
 * A {@link WrappedKeyStore} in memory: the reference behaviour for the catalog's store of wrapped
 * data keys, used by tests and by `aegis keys rotate` until the catalog holds them.
 */
import type { WrappedDataKey, WrappedKeyStore } from './rotation.js';

/** Wrapped data keys in a Map, with compare-and-set replacement. */
export class MemoryWrappedKeyStore implements WrappedKeyStore {
  readonly #records = new Map<string, WrappedDataKey>();

  /** A store holding `records` (later ones win on equal ids). */
  constructor(records: Iterable<WrappedDataKey> = []) {
    for (const record of records) this.put(record);
  }

  /** Adds or overwrites a record (a copy is kept). */
  put(record: WrappedDataKey): void {
    this.#records.set(record.id, { id: record.id, keyId: record.keyId, wrapped: Buffer.from(record.wrapped) });
  }

  /** The record of `id`, if any. */
  get(id: string): WrappedDataKey | undefined {
    return this.#records.get(id);
  }

  /** Number of records. */
  get size(): number {
    return this.#records.size;
  }

  async *list(): AsyncIterable<WrappedDataKey> {
    for (const record of [...this.#records.values()]) yield record;
  }

  async replace(next: WrappedDataKey, expectedKeyId: string): Promise<boolean> {
    const current = this.#records.get(next.id);
    if (current === undefined || current.keyId !== expectedKeyId) return false;
    this.put(next);
    return true;
  }
}
