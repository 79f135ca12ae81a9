/**
 * A sharded read whose caller's signal fires after the hedge delay sent reads beyond the first k:
 * the read rejects with the signal's reason and no shard read is left to reject unheard (an
 * unhandled rejection ends a Node process, and every request in flight on it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import { readSharded, writeFragment, type ShardIo, type WrittenPiece } from '../../../gateway/services/fragment-shards.js';
import { Limiter } from '../../../gateway/services/limiter.js';

/** A store that keeps what is put and answers every get only when the get's signal fires (then with the signal's reason). */
function hangingStore(name: string, gets: string[]): FragmentStore {
  const kept = new Map<string, Uint8Array>();
  return {
    name,
    put: async (key: string, bytes: Uint8Array) => (kept.set(key, bytes), { locator: key }),
    get: (locator: string, options?: { signal?: AbortSignal }) => {
      gets.push(`${name}:${locator}`);
      return new Promise<Uint8Array>((_, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal!.reason as Error), { once: true }));
    },
  } as unknown as FragmentStore;
}

describe('a sharded read cancelled by its caller', () => {
  it('rejects with the reason once, and no hedged shard read rejects unhandled', async () => {
    const gets: string[] = [];
    const stores = new Map(['a', 'b', 'c'].map((name) => [name, hangingStore(name, gets)]));
    const io: ShardIo = { store: (name) => stores.get(name)!, limiter: new Limiter(8), hedgeMs: 10 };
    const written: WrittenPiece[] = [];
    const record = await writeFragment(io, { backends: ['a', 'b', 'c'], redundancy: { scheme: 'replication', k: 1, n: 3 } }, 'id', 0, { role: 'r', index: 0, bytes: new Uint8Array([1, 2, 3]) }, written);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const client = new AbortController();
      const read = readSharded(io, record as Parameters<typeof readSharded>[1], client.signal);
      // The hedge delay passes: every shard is being read.
      for (let i = 0; i < 100 && gets.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(gets.length, 3, 'the hedge sent the reads of the other shards');
      client.abort(new Error('the client went away'));
      await assert.rejects(read, /the client went away/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(unhandled, [], 'no shard read rejected unhandled');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
