/**
 * k-of-n redundancy of one stored fragment (DepSky-CA's erasure coding, Bessani et al., EuroSys
 * 2011): a fragment is cut into k data shards and n-k parity shards (Reed-Solomon over GF(2^8),
 * `@ronomon/reed-solomon`), any k of which rebuild it; or copied n times (replication, k = 1). The
 * shards are the fragment's bytes as sealed, so with k >= 2 no single shard holds the whole of
 * anything, and with AES-GCM sealing (hardened mode) a rebuilt fragment is authenticated again by
 * `reassemble.ts`. Shard j of a fragment goes to backend j of its group (`placement.ts`); a shard's
 * SHA-256 is recorded in the signed manifest, so that a shard is checked before it is used, and a
 * corrupt one counts as missing. Pure computation (the coding runs in the thread pool).
 */
import { createRequire } from 'node:module';
import { GatewayError } from '../errors.js';

// The package's entry point is the addon itself (`binding.node`), which only `require` loads.
const ReedSolomon = createRequire(import.meta.url)('@ronomon/reed-solomon') as typeof import('@ronomon/reed-solomon');

/** How a fragment is spread over a group of backends. */
export interface Redundancy {
  /** `erasure`: Reed-Solomon, k data + (n-k) parity shards; `replication`: n whole copies (k = 1). */
  scheme: 'erasure' | 'replication';
  /** Shards needed to rebuild the fragment. */
  k: number;
  /** Shards stored (one per backend of the group). */
  n: number;
}

/** Most shards of one fragment (data + parity) this module codes. */
export const MAX_SHARDS = ReedSolomon.MAX_K + ReedSolomon.MAX_M;

const contexts = new Map<string, ReturnType<typeof ReedSolomon.create>>();

/** BAD_REQUEST-free check of a redundancy: a problem in words, or undefined when it can be coded. */
export function redundancyProblem(r: Redundancy): string | undefined {
  if (!Number.isInteger(r.k) || !Number.isInteger(r.n) || r.k < 1 || r.n < r.k) return `k and n must be whole numbers with 1 <= k <= n (got k=${r.k}, n=${r.n})`;
  if (r.scheme === 'replication' && r.k !== 1) return `replication stores whole copies: k is 1 (got ${r.k})`;
  if (r.scheme === 'erasure' && (r.k > ReedSolomon.MAX_K || r.n - r.k > ReedSolomon.MAX_M)) return `erasure coding takes at most ${ReedSolomon.MAX_K} data and ${ReedSolomon.MAX_M} parity shards (got k=${r.k}, n=${r.n})`;
  if (r.scheme === 'erasure' && r.n === r.k) return 'erasure coding with n = k has no parity shard: no backend may be lost; use n > k';
  return undefined;
}

/** The length of each shard of a `length`-byte fragment: a multiple of 8, at least 8. */
export function shardLength(r: Redundancy, length: number): number {
  if (r.scheme === 'replication') return length;
  return Math.max(8, Math.ceil(length / r.k / 8) * 8);
}

/** The n shards of `bytes`: data shards 0..k-1 (the bytes, zero-padded), then the parity shards. */
export async function encodeShards(r: Redundancy, bytes: Uint8Array): Promise<Buffer[]> {
  assertCodable(r);
  if (r.scheme === 'replication') return Array.from({ length: r.n }, () => Buffer.from(bytes));
  const size = shardLength(r, bytes.length);
  const data = Buffer.alloc(size * r.k);
  data.set(bytes);
  const parity = Buffer.alloc(size * (r.n - r.k));
  await code(r, mask(0, r.k), mask(r.k, r.n), data, parity);
  return [...slices(data, size, r.k), ...slices(parity, size, r.n - r.k)];
}

/**
 * Rebuilds a `length`-byte fragment from shards (index j: shard j, undefined when missing or
 * corrupt); INTEGRITY_FAILURE with fewer than k, or a shard of the wrong length. The caller checks
 * each shard's SHA-256 first: this only does arithmetic.
 */
export async function decodeShards(r: Redundancy, shards: ReadonlyArray<Uint8Array | undefined>, length: number): Promise<Buffer> {
  assertCodable(r);
  const size = shardLength(r, length);
  const present = shards.map((s, j) => (s !== undefined && j < r.n ? j : -1)).filter((j) => j >= 0);
  if (present.length < r.k) throw new GatewayError('INTEGRITY_FAILURE', `only ${present.length} of the ${r.k} shards needed to rebuild a fragment are intact`);
  for (const j of present) if (shards[j]!.length !== size) throw new GatewayError('INTEGRITY_FAILURE', `shard ${j} has ${shards[j]!.length} bytes, ${size} expected`);
  if (r.scheme === 'replication') return Buffer.from(shards[present[0]]!.subarray(0, length));
  const data = Buffer.alloc(size * r.k);
  const parity = Buffer.alloc(size * (r.n - r.k));
  let sources = 0;
  for (const j of present.slice(0, r.k)) {
    (j < r.k ? data : parity).set(shards[j]!, (j < r.k ? j : j - r.k) * size);
    sources |= 1 << j;
  }
  const targets = mask(0, r.k) & ~sources;
  if (targets !== 0) await code(r, sources, targets, data, parity);
  return data.subarray(0, length);
}

function assertCodable(r: Redundancy): void {
  const problem = redundancyProblem(r);
  if (problem !== undefined) throw new GatewayError('INTERNAL', `cannot code shards: ${problem}`);
}

function mask(from: number, to: number): number {
  let bits = 0;
  for (let j = from; j < to; j++) bits |= 1 << j;
  return bits;
}

function slices(buffer: Buffer, size: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, j) => Buffer.from(buffer.subarray(j * size, (j + 1) * size)));
}

function code(r: Redundancy, sources: number, targets: number, data: Buffer, parity: Buffer): Promise<void> {
  const key = `${r.k}/${r.n}`;
  let context = contexts.get(key);
  if (context === undefined) contexts.set(key, (context = ReedSolomon.create(r.k, r.n - r.k)));
  return new Promise((resolve, reject) => {
    ReedSolomon.encode(context, sources, targets, data, 0, data.length, parity, 0, parity.length, (error) => (error ? reject(new GatewayError('INTERNAL', `Reed-Solomon coding failed: ${error.message}`, { cause: error })) : resolve()));
  });
}
