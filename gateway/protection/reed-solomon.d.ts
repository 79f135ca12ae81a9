/**
 * Types of `@ronomon/reed-solomon`, a Reed-Solomon erasure coding N-API addon that ships none. Only
 * what `erasure.ts` uses: a coding context for k data and m parity shards, and `encode`, which
 * computes the `targets` shards from the `sources` shards (bit j: shard j, data shards first, then
 * parity) in the thread pool. Every shard is `size / k` bytes (data) or `paritySize / m` (parity),
 * a multiple of 8.
 */
declare module '@ronomon/reed-solomon' {
  /** An encoding context for k data shards and m parity shards; reusable concurrently. */
  export interface ReedSolomonContext {
    readonly k: number;
    readonly m: number;
  }
  /** Largest number of data shards. */
  export const MAX_K: number;
  /** Largest number of parity shards. */
  export const MAX_M: number;
  /** A context for k data and m parity shards. */
  export function create(k: number, m: number): ReedSolomonContext;
  /** Computes the `targets` shards from the `sources` shards (bit flags). */
  export function encode(
    context: ReedSolomonContext,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}
