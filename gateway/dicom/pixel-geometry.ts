/**
 * The geometry of Pixel Data (7FE0,0010): the Image Pixel Module attributes (PS3.3 C.7.6.3) that
 * say how the native pixel bytes of PS3.5 §8.1.1 are laid out, and access to one sample's integer
 * value honouring Bits Stored, High Bit and Pixel Representation (PS3.5 §8.1.1, PS3.3 C.7.6.3.1).
 * Shared by the segmentation and the watermark; pure, no I/O.
 */
import type { DicomJson, PixelDataLayout } from './types.js';
import { invalid } from './values.js';

/** How the samples of native pixel data are laid out (encapsulated data: as declared, not decoded). */
export interface PixelGeometry {
  rows: number;
  columns: number;
  /** Samples per Pixel (0028,0002), 1 when absent. */
  samplesPerPixel: number;
  /** Bits Allocated (0028,0100): 1 (bit-packed), 8, 16, 32 ... */
  bitsAllocated: number;
  /** Bits Stored (0028,0101), Bits Allocated when absent. */
  bitsStored: number;
  /** High Bit (0028,0102), Bits Stored - 1 when absent. */
  highBit: number;
  /** Pixel Representation (0028,0103): 0 unsigned, 1 two's complement. */
  pixelRepresentation: 0 | 1;
  /** Planar Configuration (0028,0006): 0 interleaved (R1G1B1R2...), 1 by plane (R1R2...G1G2...). Always 0 for one sample. */
  planarConfiguration: 0 | 1;
  /** Number of frames of the layout. */
  frames: number;
  /** Samples are big endian (Explicit VR Big Endian); false for encapsulated data. */
  bigEndian: boolean;
}

/**
 * The geometry of an instance's pixel data from its metadata (DICOM JSON, tags 0028,xxxx) and its
 * {@link PixelDataLayout}. Throws `INVALID_DICOM` when Rows, Columns or Bits Allocated is missing.
 */
export function pixelGeometry(metadata: DicomJson, layout: PixelDataLayout): PixelGeometry {
  const rows = number(metadata, '00280010');
  const columns = number(metadata, '00280011');
  const bitsAllocated = number(metadata, '00280100');
  if (rows === undefined || columns === undefined || bitsAllocated === undefined) {
    throw invalid('Pixel Data (7FE0,0010) is present but Rows, Columns or Bits Allocated (0028,0010/0011/0100) is missing');
  }
  const samplesPerPixel = number(metadata, '00280002') ?? 1;
  const bitsStored = number(metadata, '00280101') ?? bitsAllocated;
  return {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit: number(metadata, '00280102') ?? bitsStored - 1,
    pixelRepresentation: number(metadata, '00280103') === 1 ? 1 : 0,
    planarConfiguration: samplesPerPixel > 1 && number(metadata, '00280006') === 1 ? 1 : 0,
    frames: layout.encapsulated ? layout.frames.length : layout.numberOfFrames,
    bigEndian: layout.encapsulated ? false : layout.bigEndian,
  };
}

function number(metadata: DicomJson, tag: string): number | undefined {
  const value = metadata[tag]?.Value?.[0];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Bytes of one sample (0 for bit-packed BitsAllocated 1). */
export function bytesPerSample(geometry: PixelGeometry): number {
  return geometry.bitsAllocated % 8 === 0 ? geometry.bitsAllocated / 8 : 0;
}

/** Bytes of one frame (BitsAllocated 1: the bytes its bits fill, rounded up). */
export function frameByteLength(geometry: PixelGeometry): number {
  const { rows, columns, samplesPerPixel, bitsAllocated } = geometry;
  return Math.ceil((rows * columns * samplesPerPixel * bitsAllocated) / 8);
}

/**
 * Byte offset of sample `sample` of pixel `pixel` (raster index within the frame) of frame
 * `frame` (0-based), honouring the Planar Configuration. Not for BitsAllocated 1.
 */
export function sampleOffset(geometry: PixelGeometry, frame: number, pixel: number, sample: number): number {
  const size = bytesPerSample(geometry);
  const pixels = geometry.rows * geometry.columns;
  const index = geometry.planarConfiguration === 1 ? sample * pixels + pixel : pixel * geometry.samplesPerPixel + sample;
  return (frame * pixels * geometry.samplesPerPixel + index) * size;
}

/** Where the stored bits lie in a sample, and the sign bit. */
function storedBits(geometry: PixelGeometry): { shift: number; scale: number } {
  return { shift: geometry.highBit + 1 - geometry.bitsStored, scale: 2 ** geometry.bitsStored };
}

function readWord(pixels: Uint8Array, offset: number, size: number, bigEndian: boolean): number {
  let word = 0;
  for (let i = 0; i < size; i++) word = word * 256 + pixels[offset + (bigEndian ? i : size - 1 - i)];
  return word;
}

function writeWord(pixels: Uint8Array, offset: number, size: number, bigEndian: boolean, word: number): void {
  for (let i = 0; i < size; i++) {
    pixels[offset + (bigEndian ? size - 1 - i : i)] = word % 256;
    word = Math.floor(word / 256);
  }
}

/**
 * The integer value of the sample at byte `offset`: its Bits Stored bits ending at High Bit,
 * sign-extended when Pixel Representation is 1. Bits outside the stored ones are ignored.
 */
export function readSample(pixels: Uint8Array, geometry: PixelGeometry, offset: number): number {
  const size = bytesPerSample(geometry);
  const { shift, scale } = storedBits(geometry);
  const value = Math.floor(readWord(pixels, offset, size, geometry.bigEndian) / 2 ** shift) % scale;
  return geometry.pixelRepresentation === 1 && value >= scale / 2 ? value - scale : value;
}

/**
 * Writes `value` (an integer in the range of Bits Stored and Pixel Representation) into the sample at
 * byte `offset`, keeping the bits outside the stored ones. Throws a RangeError when out of range.
 */
export function writeSample(pixels: Uint8Array, geometry: PixelGeometry, offset: number, value: number): void {
  const { shift, scale } = storedBits(geometry);
  const min = geometry.pixelRepresentation === 1 ? -scale / 2 : 0;
  if (!Number.isInteger(value) || value < min || value >= min + scale) {
    throw new RangeError(`sample value ${value} is outside [${min}, ${min + scale - 1}]`);
  }
  const size = bytesPerSample(geometry);
  const word = readWord(pixels, offset, size, geometry.bigEndian);
  const unit = 2 ** shift;
  const low = word % unit;
  const high = Math.floor(word / (unit * scale)) * unit * scale;
  writeWord(pixels, offset, size, geometry.bigEndian, high + (value < 0 ? value + scale : value) * unit + low);
}
