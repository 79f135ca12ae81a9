/**
 * The geometry of native pixel data (PS3.3 C.7.6.3 Image Pixel Module, PS3.5 §8.1.1 and §8.2):
 * how many frames, rows, columns and samples, how each sample is stored (Bits Allocated, Bits
 * Stored, High Bit, Pixel Representation, byte order) and where sample k of pixel p of frame f
 * lies. Read and write the stored value of one sample as an integer: only the Bits Stored bits
 * ending at High Bit are the value (two's complement within Bits Stored when Pixel Representation
 * is 1); every other bit of the sample's word is left exactly as stored, garbage included.
 * Pure: no I/O, no copies of pixel data.
 */
import type { DicomJson, PixelDataLayout } from './types.js';
import { invalid } from './values.js';

/** The geometry of the Pixel Data of one instance. */
export interface PixelGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 unsigned, 1 signed (two's complement within Bits Stored). */
  pixelRepresentation: 0 | 1;
  /** 0: samples of a pixel are adjacent (R1 G1 B1 R2 ...); 1: one plane per sample (R1 R2 ... G1 ...). */
  planarConfiguration: 0 | 1;
  frames: number;
  /** Samples wider than a byte are stored most significant byte first (Explicit VR Big Endian). */
  bigEndian: boolean;
  /** Photometric Interpretation (0028,0004), e.g. MONOCHROME2, RGB, YBR_FULL_422 ('' when absent). */
  photometricInterpretation: string;
}

/**
 * The geometry of an instance's pixel data, from its metadata (tags 0028,xxxx) and its layout.
 * Throws `INVALID_DICOM` when the attributes contradict each other (Bits Stored above Bits
 * Allocated, High Bit outside the allocated bits, a frame length that does not match).
 */
export function pixelGeometry(metadata: DicomJson, layout: PixelDataLayout): PixelGeometry {
  const bitsAllocated = integer(metadata, '00280100', 'Bits Allocated');
  const bitsStored = integer(metadata, '00280101', 'Bits Stored') ?? bitsAllocated;
  const geometry: PixelGeometry = {
    rows: integer(metadata, '00280010', 'Rows') ?? missing('Rows (0028,0010)'),
    columns: integer(metadata, '00280011', 'Columns') ?? missing('Columns (0028,0011)'),
    samplesPerPixel: integer(metadata, '00280002', 'Samples per Pixel') ?? 1,
    bitsAllocated: bitsAllocated ?? missing('Bits Allocated (0028,0100)'),
    bitsStored: bitsStored ?? 0,
    highBit: integer(metadata, '00280102', 'High Bit') ?? (bitsStored ?? 0) - 1,
    pixelRepresentation: flag(metadata, '00280103', 'Pixel Representation'),
    planarConfiguration: flag(metadata, '00280006', 'Planar Configuration'),
    frames: layout.encapsulated ? layout.frames.length : layout.numberOfFrames,
    bigEndian: !layout.encapsulated && layout.bigEndian,
    photometricInterpretation: String(metadata['00280004']?.Value?.[0] ?? '').trim(),
  };
  const { bitsStored: stored, highBit } = geometry;
  if (stored < 1 || stored > geometry.bitsAllocated) {
    throw invalid(`Bits Stored (0028,0101) is ${stored}: it must be 1 to Bits Allocated (${geometry.bitsAllocated})`);
  }
  if (highBit < stored - 1 || highBit > geometry.bitsAllocated - 1) {
    throw invalid(`High Bit (0028,0102) is ${highBit}: with Bits Stored ${stored} and Bits Allocated ${geometry.bitsAllocated} it must be ${stored - 1} to ${geometry.bitsAllocated - 1}`);
  }
  if (!layout.encapsulated && layout.bitsPerFrame === undefined && unsupportedSampleAccess(geometry) === undefined && layout.frameLength !== frameLength(geometry)) {
    throw invalid(`a frame of Pixel Data holds ${layout.frameLength} bytes, but the Image Pixel attributes describe ${frameLength(geometry)}`);
  }
  return geometry;
}

/** A native pixel data layout ({@link PixelDataLayout} with `encapsulated: false`). */
export type NativePixelDataLayout = Extract<PixelDataLayout, { encapsulated: false }>;

/**
 * The bytes of every frame of native pixel data, as a view of `view` (the bytes the layout's
 * offsets refer to, see `datasetView`): frames back to back, without the pad byte of odd lengths.
 */
export function nativePixelBytes(view: Uint8Array, layout: NativePixelDataLayout): Uint8Array {
  const length = layout.bitsPerFrame !== undefined ? Math.ceil((layout.bitsPerFrame * layout.numberOfFrames) / 8) : layout.frameLength * layout.numberOfFrames;
  return view.subarray(layout.offset, layout.offset + length);
}

/**
 * Why the sample helpers cannot address this geometry's samples, or undefined when they can:
 * Bits Allocated 1 (bit-packed), Bits Allocated other than 8, 16 or 32, and chroma-subsampled
 * YBR_*_422 / YBR_*_420 (two chroma samples shared by several pixels).
 */
export function unsupportedSampleAccess(geometry: PixelGeometry): string | undefined {
  const { bitsAllocated, photometricInterpretation } = geometry;
  if (bitsAllocated === 1) return 'Bits Allocated is 1: samples are bit-packed, not addressable as integers';
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    return `Bits Allocated is ${bitsAllocated}: only 8, 16 and 32-bit samples are supported`;
  }
  if (/_42[02]$/.test(photometricInterpretation)) {
    return `Photometric Interpretation ${photometricInterpretation}: chroma samples are shared by several pixels`;
  }
  return undefined;
}

/** Bytes per sample (1, 2 or 4). Throws RangeError when the samples are not addressable. */
export function bytesPerSample(geometry: PixelGeometry): 1 | 2 | 4 {
  const reason = unsupportedSampleAccess(geometry);
  if (reason !== undefined) throw new RangeError(reason);
  return (geometry.bitsAllocated / 8) as 1 | 2 | 4;
}

/** Pixels per frame (Rows x Columns). */
export function pixelsPerFrame(geometry: PixelGeometry): number {
  return geometry.rows * geometry.columns;
}

/** Samples per frame (Rows x Columns x Samples per Pixel). */
export function samplesPerFrame(geometry: PixelGeometry): number {
  return geometry.rows * geometry.columns * geometry.samplesPerPixel;
}

/** Bytes of one frame (addressable geometries only). */
export function frameLength(geometry: PixelGeometry): number {
  return samplesPerFrame(geometry) * bytesPerSample(geometry);
}

/** Bytes of one frame as stored, any geometry (BitsAllocated 1: the bytes its bits fill, rounded up). */
export function frameByteLength(geometry: PixelGeometry): number {
  const { rows, columns, samplesPerPixel, bitsAllocated } = geometry;
  return Math.ceil((rows * columns * samplesPerPixel * bitsAllocated) / 8);
}

/** The smallest and largest stored value (Bits Stored, signed or not). */
export function valueRange(geometry: PixelGeometry): { min: number; max: number } {
  const span = 2 ** geometry.bitsStored;
  return geometry.pixelRepresentation === 1 ? { min: -span / 2, max: span / 2 - 1 } : { min: 0, max: span - 1 };
}

/**
 * Byte offset, in the Pixel Data value, of sample `sample` of pixel `pixel` (row-major, 0-based)
 * of frame `frame` (0-based). No range checks: callers validate indices once, not per sample.
 */
export function sampleOffset(geometry: PixelGeometry, frame: number, pixel: number, sample: number): number {
  const pixels = geometry.rows * geometry.columns;
  const samples = geometry.samplesPerPixel;
  const index = geometry.planarConfiguration === 1 && samples > 1 ? (frame * samples + sample) * pixels + pixel : (frame * pixels + pixel) * samples + sample;
  return index * (geometry.bitsAllocated >>> 3);
}

/** Reads and writes stored sample values at byte offsets; made once per geometry for hot loops. */
export interface SampleCodec {
  readonly bytesPerSample: 1 | 2 | 4;
  readonly min: number;
  readonly max: number;
  /** The stored value of the sample at `offset` (signed when Pixel Representation is 1). */
  read(bytes: Uint8Array, offset: number): number;
  /**
   * Stores `value` in the sample at `offset`, keeping every bit outside Bits Stored / High Bit.
   * Throws RangeError when `value` is not an integer of the stored range.
   */
  write(bytes: Uint8Array, offset: number, value: number): void;
}

/** A {@link SampleCodec} for this geometry; throws RangeError when samples are not addressable. */
export function sampleCodec(geometry: PixelGeometry): SampleCodec {
  const size = bytesPerSample(geometry);
  const { min, max } = valueRange(geometry);
  const bits = geometry.bitsStored;
  const lowBit = geometry.highBit - bits + 1;
  const span = 2 ** bits;
  const mask = span - 1;
  const signBit = geometry.pixelRepresentation === 1 ? span / 2 : span;
  const field = mask * 2 ** lowBit; // the stored bits within the word, as an unsigned number
  const [readWord, writeWord] = wordAccess(size, geometry.bigEndian);
  return {
    bytesPerSample: size,
    min,
    max,
    read(bytes, offset) {
      const code = ((readWord(bytes, offset) >>> lowBit) & mask) >>> 0;
      return code >= signBit ? code - span : code;
    },
    write(bytes, offset, value) {
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(`sample value ${value} is outside the stored range ${min}..${max}`);
      }
      const code = value < 0 ? value + span : value;
      const kept = (readWord(bytes, offset) & ~field) >>> 0;
      writeWord(bytes, offset, (kept | ((code << lowBit) >>> 0)) >>> 0);
    },
  };
}

/** The stored value of sample `sample` of pixel `pixel` of frame `frame` (all 0-based). */
export function readSample(bytes: Uint8Array, geometry: PixelGeometry, frame: number, pixel: number, sample: number): number {
  return sampleCodec(geometry).read(bytes, checkedOffset(bytes, geometry, frame, pixel, sample));
}

/** Stores `value` in sample `sample` of pixel `pixel` of frame `frame`, keeping the bits outside Bits Stored. */
export function writeSample(bytes: Uint8Array, geometry: PixelGeometry, frame: number, pixel: number, sample: number, value: number): void {
  sampleCodec(geometry).write(bytes, checkedOffset(bytes, geometry, frame, pixel, sample), value);
}

function checkedOffset(bytes: Uint8Array, geometry: PixelGeometry, frame: number, pixel: number, sample: number): number {
  const inRange = (v: number, n: number) => Number.isInteger(v) && v >= 0 && v < n;
  if (!inRange(frame, geometry.frames) || !inRange(pixel, pixelsPerFrame(geometry)) || !inRange(sample, geometry.samplesPerPixel)) {
    throw new RangeError(`no sample ${sample} of pixel ${pixel} of frame ${frame} in ${geometry.frames} frame(s) of ${geometry.rows}x${geometry.columns}x${geometry.samplesPerPixel}`);
  }
  const offset = sampleOffset(geometry, frame, pixel, sample);
  if (offset + bytesPerSample(geometry) > bytes.length) throw new RangeError(`pixel data of ${bytes.length} bytes ends before sample offset ${offset}`);
  return offset;
}

type ReadWord = (bytes: Uint8Array, offset: number) => number;
type WriteWord = (bytes: Uint8Array, offset: number, word: number) => void;

/** Unsigned word readers and writers for 1, 2 and 4-byte samples in either byte order. */
function wordAccess(size: 1 | 2 | 4, bigEndian: boolean): [ReadWord, WriteWord] {
  if (size === 1) return [(b, o) => b[o], (b, o, w) => void (b[o] = w)];
  if (size === 2) {
    return bigEndian ? [(b, o) => (b[o] << 8) | b[o + 1], (b, o, w) => void ((b[o] = w >>> 8), (b[o + 1] = w))] : [(b, o) => b[o] | (b[o + 1] << 8), (b, o, w) => void ((b[o] = w), (b[o + 1] = w >>> 8))];
  }
  return bigEndian
    ? [(b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0, (b, o, w) => void ((b[o] = w >>> 24), (b[o + 1] = w >>> 16), (b[o + 2] = w >>> 8), (b[o + 3] = w))]
    : [(b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0, (b, o, w) => void ((b[o] = w), (b[o + 1] = w >>> 8), (b[o + 2] = w >>> 16), (b[o + 3] = w >>> 24))];
}

function integer(metadata: DicomJson, tag: string, name: string): number | undefined {
  const value = metadata[tag]?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${name} (${tag.slice(0, 4)},${tag.slice(4)}) is not a non-negative integer: ${JSON.stringify(value)}`);
  }
  return value;
}

function flag(metadata: DicomJson, tag: string, name: string): 0 | 1 {
  const value = integer(metadata, tag, name) ?? 0;
  if (value > 1) throw invalid(`${name} (${tag.slice(0, 4)},${tag.slice(4)}) is ${value}: it must be 0 or 1`);
  return value as 0 | 1;
}

function missing(what: string): never {
  throw invalid(`Pixel Data (7FE0,0010) is present but ${what} is missing`);
}
