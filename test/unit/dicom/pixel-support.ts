/**
 * Helpers of the pixel geometry and watermark tests: geometries with defaults, a seeded PRNG,
 * pixel data built from a value function over garbage bytes, and the bits of each sample's word
 * outside Bits Stored (which the watermark must keep exactly).
 */
import { sampleCodec, sampleOffset, type PixelGeometry } from '../../../gateway/dicom/pixel-geometry.js';

/** A geometry with defaults: 1 frame of 2x2 16-bit unsigned little endian MONOCHROME2. */
export function geometryOf(overrides: Partial<PixelGeometry> = {}): PixelGeometry {
  const bitsAllocated = overrides.bitsAllocated ?? 16;
  const bitsStored = overrides.bitsStored ?? bitsAllocated;
  return {
    rows: 2,
    columns: 2,
    samplesPerPixel: 1,
    bitsAllocated,
    bitsStored,
    highBit: bitsStored - 1,
    pixelRepresentation: 0,
    planarConfiguration: 0,
    frames: 1,
    bigEndian: false,
    photometricInterpretation: 'MONOCHROME2',
    ...overrides,
  };
}

/** Mulberry32: a seeded PRNG returning 32-bit unsigned integers. */
export function prng(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Every sample's byte offset, frame, pixel and sample in turn. */
export function* sampleOffsets(geometry: PixelGeometry): Generator<number> {
  for (let f = 0; f < geometry.frames; f++) {
    for (let p = 0; p < geometry.rows * geometry.columns; p++) {
      for (let k = 0; k < geometry.samplesPerPixel; k++) yield sampleOffset(geometry, f, p, k);
    }
  }
}

/**
 * Pixel data of `geometry`: random garbage bytes (when `garbageSeed` is given, else zeros) with
 * each sample's stored value set to `value(index)` (index in frame, pixel, sample order).
 */
export function pixelsFor(geometry: PixelGeometry, value: (index: number) => number, garbageSeed?: number): Uint8Array {
  const bytes = new Uint8Array(geometry.rows * geometry.columns * geometry.samplesPerPixel * geometry.frames * (geometry.bitsAllocated / 8));
  if (garbageSeed !== undefined) {
    const next = prng(garbageSeed);
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
  }
  const codec = sampleCodec(geometry);
  let i = 0;
  for (const offset of sampleOffsets(geometry)) codec.write(bytes, offset, value(i++));
  return bytes;
}

/** Every sample's stored value, in frame, pixel, sample order. */
export function sampleValues(bytes: Uint8Array, geometry: PixelGeometry): number[] {
  const codec = sampleCodec(geometry);
  return [...sampleOffsets(geometry)].map((offset) => codec.read(bytes, offset));
}

/** The bytes with every stored value set to 0: what lies outside Bits Stored. */
export function outsideStoredBits(bytes: Uint8Array, geometry: PixelGeometry): Uint8Array {
  const copy = new Uint8Array(bytes);
  const codec = sampleCodec(geometry);
  for (const offset of sampleOffsets(geometry)) codec.write(copy, offset, 0);
  return copy;
}
