/**
 * Reading and writing one fragment of a protected instance on its target (`protection/placement.ts`):
 * whole on a PACS backend (other backends hold whole fragments in bundles, `fragment-bundles.ts`),
 * or as the n shards of its redundancy group (`protection/erasure.ts`). Shards are written in
 * parallel (all n must be durable), and read in parallel: the k data shards first,
 * each failed one replaced by the next shard at once, and every other shard as well once the first
 * reads outlast a short hedge delay (a slow or hanging backend). Each shard is checked against the
 * SHA-256 the signed manifest records, the fragment is rebuilt as soon as k shards check out, and
 * the reads still in flight are cancelled. Shards that are missing, corrupt or on a
 * backend that failed are reported, so that the read can be audited as degraded and `aegis scrub`
 * can say what `aegis repair` must rewrite.
 */
import { createHash } from 'node:crypto';
import type { FragmentStore, PutOptions } from '../../adapters/fragment-store.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { decodeShards, encodeShards } from '../protection/erasure.js';
import type { FragmentRecord, ShardedFragmentRecord, ShardRecord } from '../protection/manifest.js';
import { fragmentStoreKey, shardStoreKey, type FragmentTarget } from '../protection/placement.js';
import type { Limiter } from './limiter.js';

/** Why a stored piece could not be used: gone, not the bytes recorded, or its backend failed (down, timed out, not configured). */
export type ShardProblem = 'missing' | 'corrupt' | 'unavailable';

/** A shard (or whole fragment) that could not be used. */
export interface ShardFault {
  role: string;
  index: number;
  /** Shard number; absent for a fragment stored whole. */
  shard?: number;
  backend: string;
  problem: ShardProblem;
  /** The error's words, for the log and the report. */
  detail: string;
}

/** A piece written, to remove if the instance as a whole fails. */
export interface WrittenPiece {
  store: FragmentStore;
  locator: string;
}

/** How long the first k shard reads may take before the other shards are read too. */
export const DEFAULT_HEDGE_MS = 300;

/** What reading and writing shards needs. */
export interface ShardIo {
  store(name: string): FragmentStore;
  limiter: Limiter;
  /** Milliseconds before the shards beyond the first k are read as well (a slow or hanging backend); default {@link DEFAULT_HEDGE_MS}. */
  hedgeMs?: number;
}

/** SHA-256 (hex) of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Stores the n-th fragment of the instance `id` on its target and returns its record. Every piece
 * that reached a backend is pushed on `written`, also when another piece failed, so that the caller
 * can remove them; the promise settles only after every put has.
 */
export async function writeFragment(io: ShardIo, target: FragmentTarget, id: string, n: number, fragment: { role: string; index: number; bytes: Uint8Array }, written: WrittenPiece[], options?: PutOptions): Promise<FragmentRecord> {
  const facts = { role: fragment.role, index: fragment.index, length: fragment.bytes.length, sha256: sha256Hex(fragment.bytes) };
  if (target.redundancy === undefined) {
    const key = fragmentStoreKey(id, n);
    const [object] = await putAll(io, [{ backend: target.backend, key, bytes: fragment.bytes, options }], written);
    return { ...facts, backend: object.backend, key, locator: object.locator };
  }
  const shards = await encodeShards(target.redundancy, fragment.bytes);
  const records = await putAll(
    io,
    shards.map((bytes, j) => ({ backend: target.backends[j], key: shardStoreKey(id, n, j), bytes })),
    written,
  );
  return { ...facts, redundancy: target.redundancy, shards: records.map((record, j) => ({ ...record, sha256: sha256Hex(shards[j]) })) };
}

/** An object written by {@link putAll}: entry `index`, where it went and under what locator. */
export type PutRecord = Omit<ShardRecord, 'sha256'>;

/** Writes one piece per entry in parallel (under the limiter); rejects with the first failure once all have settled. */
export async function putAll(io: ShardIo, pieces: Array<{ backend: string; key: string; bytes: Uint8Array; options?: PutOptions }>, written: WrittenPiece[]): Promise<PutRecord[]> {
  const settled = await Promise.allSettled(
    pieces.map(({ backend, key, bytes, options }, j) =>
      io.limiter.run(async (): Promise<PutRecord> => {
        const store = io.store(backend);
        const { locator } = await store.put(key, bytes, options);
        written.push({ store, locator });
        return { index: j, backend: store.name, key, locator, length: bytes.length };
      }),
    ),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<PutRecord>).value);
}

/**
 * The bytes of a fragment kept with redundancy, and the pieces that could not be used (fragments
 * stored whole are read by `fragment-bundles.ts`). It is rebuilt from the first k shards whose
 * SHA-256 matches; with fewer, INTEGRITY_FAILURE when too many are missing or corrupt for any read
 * to succeed, otherwise the backend's error (503 or 504: retry later).
 */
export async function readSharded(io: ShardIo, record: ShardedFragmentRecord, signal?: AbortSignal): Promise<{ bytes: Uint8Array; faults: ShardFault[] }> {
  const { k, n } = record.redundancy;
  const shards = [...record.shards].sort((a, b) => a.index - b.index);
  const done = new AbortController();
  const both = signal === undefined ? done.signal : AbortSignal.any([signal, done.signal]);
  const intact: Array<Uint8Array | undefined> = new Array(n);
  const faults: ShardFault[] = [];
  const errors: unknown[] = [];
  const pending = new Set<Promise<void>>();
  let count = 0;
  let next = 0;
  const readOne = async (shard: ShardRecord): Promise<void> => {
    const fault = (problem: ShardProblem, detail: string) => {
      faults.push({ role: record.role, index: record.index, shard: shard.index, backend: shard.backend, problem, detail });
      launch(); // one more shard in place of this one
    };
    try {
      const bytes = await io.limiter.run(() => io.store(shard.backend).get(shard.locator, { signal: both }), both);
      if (done.signal.aborted) return;
      if (bytes.length !== shard.length || sha256Hex(bytes) !== shard.sha256) return void fault('corrupt', `shard ${shard.index} on backend ${shard.backend} is not the bytes recorded`);
      if (shard.index >= 0 && shard.index < n && intact[shard.index] === undefined) intact[shard.index] = bytes;
      if (++count === k) done.abort();
    } catch (error) {
      if (done.signal.aborted) return; // cancelled: k shards were already in
      if (signal?.aborted) throw error;
      if (isGatewayError(error, 'NOT_FOUND')) return void fault('missing', `shard ${shard.index} is missing from backend ${shard.backend}`);
      errors.push(error);
      fault('unavailable', `backend ${shard.backend}: ${(error as Error).message}`);
    }
  };
  function launch(): void {
    if (next >= shards.length || done.signal.aborted) return;
    const read: Promise<void> = readOne(shards[next++]).finally(() => pending.delete(read));
    // Handled at once: a read launched after the wait below gave up (the caller's signal) must not
    // reject unheard, which would end the process; the wait still sees each rejection.
    read.catch(() => undefined);
    pending.add(read);
  }
  // The k data shards first (no decoding when they are intact); a failed one is replaced at once by
  // the next shard, and a shard slower than the hedge delay by all the rest.
  for (let i = 0; i < k; i++) launch();
  const hedge = setTimeout(() => {
    while (next < shards.length && !done.signal.aborted) launch();
  }, io.hedgeMs ?? DEFAULT_HEDGE_MS);
  try {
    while (pending.size > 0) await Promise.all([...pending]);
  } finally {
    clearTimeout(hedge);
  }
  if (count < k) {
    const lost = faults.filter((f) => f.problem !== 'unavailable').length;
    if (lost > n - k || errors.length === 0) throw new GatewayError('INTEGRITY_FAILURE', `fragment ${record.role}:${record.index}: only ${count} of the ${k} shards needed are intact (${faults.map((f) => f.detail).join('; ')})`);
    throw errors[0];
  }
  const bytes = await decodeShards(record.redundancy, intact, record.length);
  if (sha256Hex(bytes) !== record.sha256) throw new GatewayError('INTEGRITY_FAILURE', `fragment ${record.role}:${record.index}: the rebuilt fragment is not the one recorded`);
  return { bytes, faults };
}
