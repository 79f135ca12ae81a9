/**
 * Where the frames of Pixel Data (7FE0,0010) lie: native pixel data (PS3.5 §8.1.1, frames back
 * to back, PS3.3 C.7.6.3.1 for the frame size) and encapsulated pixel data (PS3.5 §8.2 and Annex
 * A.4: fragments, the Basic Offset Table, the Extended Offset Table (7FE0,0001)/(7FE0,0002)).
 * Only offsets are computed: no pixel byte is copied or decoded.
 */
import { GatewayError } from '../errors.js';
import type { DicomJson, EncapsulatedFrame, PixelDataLayout } from './types.js';
import type { TransferSyntax } from './transfer-syntax.js';
import { invalid } from './values.js';

/** The Pixel Data element as the parser found it. */
export interface PixelDataElement {
  /** Offset of the value (the Basic Offset Table item, when encapsulated). */
  dataOffset: number;
  length: number;
  encapsulated: boolean;
  /** Encapsulated: the Basic Offset Table (offsets relative to the first fragment item). */
  basicOffsetTable: number[];
  /** Encapsulated: each fragment's value offset (`position`), length, and item offset relative to the first fragment item. */
  fragments: Array<{ offset: number; position: number; length: number }>;
}

/** An Extended Offset Table with its lengths, read from (7FE0,0001) and (7FE0,0002). */
export interface ExtendedOffsetTable {
  offsets: number[];
  lengths: number[] | undefined;
}

/** What {@link pixelDataLayout} needs to know about the instance. */
export interface PixelDataSource {
  element: PixelDataElement;
  metadata: DicomJson;
  transferSyntax: TransferSyntax;
  /** The bytes the offsets refer to. */
  view: Uint8Array;
  extendedOffsetTable?: ExtendedOffsetTable;
}

/** Describes the frames of the Pixel Data; throws `INVALID_DICOM` when they cannot be told apart. */
export function pixelDataLayout(source: PixelDataSource): PixelDataLayout {
  const { element, transferSyntax } = source;
  if (element.encapsulated && !transferSyntax.encapsulated) {
    throw invalid(`Pixel Data is encapsulated (undefined length) but transfer syntax ${transferSyntax.uid} (${transferSyntax.name}) is native`);
  }
  if (!element.encapsulated && transferSyntax.encapsulated) {
    throw invalid(`Pixel Data has a defined length but transfer syntax ${transferSyntax.uid} (${transferSyntax.name}) requires encapsulated pixel data`);
  }
  const numberOfFrames = framesOf(source.metadata);
  return element.encapsulated ? encapsulatedLayout(source, numberOfFrames) : nativeLayout(source, numberOfFrames);
}

function nativeLayout(source: PixelDataSource, numberOfFrames: number): PixelDataLayout {
  const { metadata, element } = source;
  const rows = required(metadata, '00280010', 'Rows');
  const columns = required(metadata, '00280011', 'Columns');
  const bitsAllocated = required(metadata, '00280100', 'Bits Allocated');
  const samples = optional(metadata, '00280002', 'Samples per Pixel') ?? 1;
  const photometric = String(metadata['00280004']?.Value?.[0] ?? '');
  if (bitsAllocated !== 1 && bitsAllocated % 8 !== 0) {
    throw invalid(`Bits Allocated (0028,0100) is ${bitsAllocated}: native pixel data needs 1 or a multiple of 8`);
  }
  // YBR_FULL_422 / YBR_PARTIAL_422: two samples per pixel on average (PS3.3 C.7.6.3.1.2).
  const effectiveSamples = samples === 3 && photometric.endsWith('_422') ? 2 : samples;
  const bitsPerFrame = rows * columns * effectiveSamples * bitsAllocated;
  const needed = Math.ceil((bitsPerFrame * numberOfFrames) / 8);
  if (element.length < needed) {
    throw invalid(`Pixel Data (7FE0,0010) holds ${element.length} bytes but ${numberOfFrames} frame(s) of ` + `${rows} x ${columns} x ${effectiveSamples} samples x ${bitsAllocated} bits need ${needed}`);
  }
  const layout: PixelDataLayout = {
    encapsulated: false,
    offset: element.dataOffset,
    frameLength: Math.ceil(bitsPerFrame / 8),
    numberOfFrames,
    bigEndian: !source.transferSyntax.littleEndian,
  };
  if (bitsAllocated === 1) layout.bitsPerFrame = bitsPerFrame;
  return layout;
}

function encapsulatedLayout(source: PixelDataSource, numberOfFrames: number): PixelDataLayout {
  const { element, view, transferSyntax } = source;
  const fragments = element.fragments;
  for (const fragment of fragments) {
    if (fragment.position + fragment.length > view.length) {
      throw invalid(`truncated: a Pixel Data fragment declares ${fragment.length} bytes but only ${view.length - fragment.position} remain`);
    }
  }
  if (fragments.length === 0) throw invalid('encapsulated Pixel Data (7FE0,0010) has no fragments');
  const frames =
    byStartOffsets(fragments, source.extendedOffsetTable?.offsets, numberOfFrames) ??
    (fragments.length === numberOfFrames ? fragments.map((f) => [f]) : undefined) ??
    byStartOffsets(fragments, element.basicOffsetTable.length > 0 ? element.basicOffsetTable : undefined, numberOfFrames) ??
    (numberOfFrames === 1 ? [fragments] : undefined) ??
    byStartMarkers(fragments, view, transferSyntax, numberOfFrames);
  if (frames === undefined) {
    throw invalid(`cannot tell which of the ${fragments.length} Pixel Data fragments belong to which of the ${numberOfFrames} frames ` + '(no usable Extended or Basic Offset Table, and no frame start markers)');
  }
  return {
    encapsulated: true,
    frames: frames.map((list): EncapsulatedFrame => list.map((f) => [f.position, f.length])),
    mediaType: transferSyntax.mediaType,
  };
}

type Fragment = PixelDataElement['fragments'][number];

/** Groups fragments by frame start offsets (BOT or EOT); undefined if the table does not fit the fragments. */
function byStartOffsets(fragments: Fragment[], offsets: number[] | undefined, numberOfFrames: number): Fragment[][] | undefined {
  if (offsets === undefined || offsets.length !== numberOfFrames || offsets[0] !== 0) return undefined;
  const startIndex = new Map<number, number>();
  fragments.forEach((f, i) => startIndex.set(f.offset, i));
  const starts: number[] = [];
  for (const offset of offsets) {
    const index = startIndex.get(offset);
    if (index === undefined || (starts.length > 0 && index <= starts[starts.length - 1])) return undefined;
    starts.push(index);
  }
  return starts.map((start, i) => fragments.slice(start, i + 1 < starts.length ? starts[i + 1] : fragments.length));
}

/** JPEG family: a frame starts with a fragment that starts with SOI (JPEG, JPEG-LS) or SOC / a JP2 signature (JPEG 2000). */
function byStartMarkers(fragments: Fragment[], view: Uint8Array, transferSyntax: TransferSyntax, numberOfFrames: number): Fragment[][] | undefined {
  const type = transferSyntax.mediaType;
  let isStart: (at: number, length: number) => boolean;
  if (type === 'image/jpeg' || type === 'image/jls') {
    isStart = (at, length) => length >= 2 && view[at] === 0xff && view[at + 1] === 0xd8;
  } else if (type === 'image/jp2' || type === 'image/jpx' || type === 'image/jphc') {
    isStart = (at, length) => (length >= 2 && view[at] === 0xff && view[at + 1] === 0x4f) || (length >= 8 && view[at + 4] === 0x6a && view[at + 5] === 0x50 && view[at + 6] === 0x20 && view[at + 7] === 0x20);
  } else {
    return undefined;
  }
  const frames: Fragment[][] = [];
  for (const fragment of fragments) {
    if (isStart(fragment.position, fragment.length)) frames.push([fragment]);
    else if (frames.length === 0) return undefined;
    else frames[frames.length - 1].push(fragment);
  }
  return frames.length === numberOfFrames ? frames : undefined;
}

/** Number of Frames (0028,0008), 1 when absent; `INVALID_DICOM` when not a positive integer. */
function framesOf(metadata: DicomJson): number {
  const value = metadata['00280008']?.Value?.[0];
  if (value === undefined || value === null) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid(`Number of Frames (0028,0008) is not a positive integer: ${JSON.stringify(value)}`);
  }
  return value;
}

function optional(metadata: DicomJson, tag: string, name: string): number | undefined {
  const value = metadata[tag]?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid(`${name} (${tag.slice(0, 4)},${tag.slice(4)}) is not a positive integer: ${JSON.stringify(value)}`);
  }
  return value;
}

function required(metadata: DicomJson, tag: string, name: string): number {
  const value = optional(metadata, tag, name);
  if (value === undefined) {
    throw invalid(`Pixel Data (7FE0,0010) is present but ${name} (${tag.slice(0, 4)},${tag.slice(4)}) is missing`);
  }
  return value;
}

/**
 * The byte ranges ([offset, length], to be concatenated in order) of frame `frameNumber`
 * (1-based) in the bytes the layout refers to. Native frames are one range; for BitsAllocated 1
 * frames are bit-packed back to back and the range covers every byte the frame's bits touch.
 * Throws `NOT_FOUND` when the frame does not exist.
 */
export function frameRanges(layout: PixelDataLayout, frameNumber: number): Array<[offset: number, length: number]> {
  const count = layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
  if (!Number.isInteger(frameNumber) || frameNumber < 1 || frameNumber > count) {
    throw new GatewayError('NOT_FOUND', `frame ${frameNumber} does not exist (the instance has ${count} frame${count === 1 ? '' : 's'})`);
  }
  if (layout.encapsulated) return layout.frames[frameNumber - 1].map(([offset, length]) => [offset, length]);
  if (layout.bitsPerFrame !== undefined) {
    const firstBit = (frameNumber - 1) * layout.bitsPerFrame;
    const start = Math.floor(firstBit / 8);
    const end = Math.ceil((firstBit + layout.bitsPerFrame) / 8);
    return [[layout.offset + start, end - start]];
  }
  return [[layout.offset + (frameNumber - 1) * layout.frameLength, layout.frameLength]];
}

/** The number of frames of a layout. */
export function frameCount(layout: PixelDataLayout): number {
  return layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
}
