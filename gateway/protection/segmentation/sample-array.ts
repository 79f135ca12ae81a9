/**
 * Typed-array views of native pixel samples (PS3.5 §8.1.1) for the segmentation of multi-sample
 * pixels (one-sample pixels go through the pixel kernels):
 * one element per sample, in the host's byte order (byte order only matters when a value is
 * interpreted, never when samples are moved).
 */

/** A view with one element per 1, 2 or 4-byte sample. */
export type SampleArray = Uint8Array | Uint16Array | Uint32Array;

/** True on a big-endian host. */
export const HOST_BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/**
 * The first `count` samples of `bytes` as a typed array of `size`-byte elements, sharing the bytes
 * when they are aligned, otherwise over an aligned copy.
 */
export function sampleArray(bytes: Uint8Array, size: number, count: number): SampleArray {
  if (size === 1) return bytes.subarray(0, count);
  if (bytes.byteOffset % size !== 0) {
    // A copy (not `slice`, which only views a Node Buffer).
    const aligned = new Uint8Array(count * size);
    aligned.set(bytes.subarray(0, count * size));
    bytes = aligned;
  }
  return size === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint32Array(bytes.buffer, bytes.byteOffset, count);
}
