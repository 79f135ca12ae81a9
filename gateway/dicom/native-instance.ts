/**
 * Writes a Part 10 instance (PS3.10 §7) in Explicit or Implicit VR Little Endian (PS3.5 §10.1,
 * A.1 and A.2) from an instance Aegis received in another little-endian transfer syntax: a
 * compressed one (PS3.5 A.4, given its decoded frames), Deflated Explicit VR Little Endian (PS3.5
 * A.5) or the other VR style. It is a new representation of the same instance: every data element
 * is copied byte for byte from the received data set (its header re-encoded by `reencode.ts` when
 * the VR style changes) except
 *   - Pixel Data (7FE0,0010), written native (PS3.5 §8.1.1: OB for 8-bit samples, OW otherwise,
 *     frames back to back, padded to an even length);
 *   - the Extended Offset Table (7FE0,0001), its lengths (7FE0,0002) and the Encapsulated Pixel
 *     Data Value Total Length (7FE0,0003), which only describe encapsulated pixel data (dropped);
 *   - Photometric Interpretation (0028,0004) and Planar Configuration (0028,0006), set to what the
 *     decoded pixels are (PS3.5 §8.2.1: a decoder gives YBR_FULL_422 JPEG data as RGB);
 * and the File Meta Information keeps its elements with the new Transfer Syntax UID (0002,0010)
 * and a recomputed group length (0002,0000). Lossy Image Compression (0028,2110) is kept: pixels
 * once compressed lossily stay so. Trailing padding after the data set is not copied. Pure.
 */
import type { ParsedInstance } from './types.js';
import { readInstanceTree } from './parse.js';
import { elementHeader, encodeElements, LONG_LENGTH_VRS, type EncodedElement } from './reencode.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax.js';
import { invalid } from './values.js';

/** Decoded pixel data to write in place of the stored Pixel Data. */
export interface NativePixels {
  /** Each frame's native bytes, in frame order. */
  frames: Uint8Array[];
  bitsAllocated: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  planarConfiguration: 0 | 1;
}

const PIXEL_DATA = 0x7fe00010;
const ENCAPSULATED_ONLY = new Set([0x7fe00001, 0x7fe00002, 0x7fe00003]);
const PHOTOMETRIC_INTERPRETATION = 0x00280004;
const PLANAR_CONFIGURATION = 0x00280006;
const PREAMBLE_AND_PREFIX = 132;

/** The uncompressed little-endian transfer syntaxes an instance can be written in. */
export const NATIVE_TARGETS: readonly string[] = [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN];

/**
 * The instance in `target` (one of {@link NATIVE_TARGETS}). `pixels` replaces the Pixel Data
 * (required when it is encapsulated); without it the stored native Pixel Data is copied. Throws
 * INVALID_DICOM when the received data set is big endian (Aegis does not byte-swap) or has an
 * element it cannot re-encode.
 */
export function nativeInstance(bytes: Uint8Array, parsed: ParsedInstance, target: string, pixels?: NativePixels): Uint8Array {
  if (!NATIVE_TARGETS.includes(target)) throw invalid(`${target} is not an uncompressed little-endian transfer syntax`);
  const explicitVR = target === EXPLICIT_VR_LITTLE_ENDIAN;
  const tree = readInstanceTree(bytes, parsed);
  if (!tree.littleEndian) throw invalid('the data set is big endian: Aegis does not byte-swap it');
  if (parsed.pixelData?.encapsulated === true && pixels === undefined) throw invalid('encapsulated pixel data needs its decoded frames');
  const replaced = new Map<number, Uint8Array>();
  if (pixels !== undefined) {
    replaced.set(PIXEL_DATA, nativePixelDataElement(pixels, explicitVR));
    replaced.set(PHOTOMETRIC_INTERPRETATION, element(PHOTOMETRIC_INTERPRETATION, 'CS', text(pixels.photometricInterpretation), explicitVR));
    if (pixels.samplesPerPixel > 1) replaced.set(PLANAR_CONFIGURATION, element(PLANAR_CONFIGURATION, 'US', uint16(pixels.planarConfiguration), explicitVR));
  }
  const elements = tree.explicitVR === explicitVR ? copiedElements(tree) : encodeElements(tree.dataSet, parsed.metadata, tree.view, explicitVR, new Set([...replaced.keys(), ...ENCAPSULATED_ONLY]));
  const chunks: Uint8Array[] = [metaHeader(bytes, tree.position, target)];
  const pending = [...replaced.keys()].sort((a, b) => a - b);
  for (const { tag, bytes: encoded } of elements) {
    // Replacements of elements the data set lacks go where their tag belongs.
    while (pending.length > 0 && pending[0] < tag) chunks.push(replaced.get(pending.shift()!)!);
    if (pending[0] === tag) pending.shift();
    if (replaced.has(tag)) chunks.push(replaced.get(tag)!);
    else if (!ENCAPSULATED_ONLY.has(tag)) chunks.push(encoded);
  }
  for (const tag of pending) chunks.push(replaced.get(tag)!);
  return concat(chunks);
}

/** The top-level elements as they are in the bytes: each from its header to the next element's. */
function copiedElements(tree: ReturnType<typeof readInstanceTree>): EncodedElement[] {
  const starts = Object.values(tree.dataSet.elements).map((e) => ({ tag: Number.parseInt(e.tag.slice(1), 16), start: e.dataOffset - headerLength(e.vr, tree.explicitVR) }));
  return starts.map(({ tag, start }, i) => ({ tag, bytes: tree.view.subarray(start, i + 1 < starts.length ? starts[i + 1].start : tree.view.length) }));
}

function headerLength(vr: string | undefined, explicitVR: boolean): number {
  return explicitVR && vr !== undefined && LONG_LENGTH_VRS.has(vr) ? 12 : 8;
}

/** The native Pixel Data element: every frame back to back, padded to an even length. */
function nativePixelDataElement(pixels: NativePixels, explicitVR: boolean): Uint8Array {
  const length = pixels.frames.reduce((sum, frame) => sum + frame.length, 0);
  const padded = length + (length % 2);
  const head = elementHeader(PIXEL_DATA, pixels.bitsAllocated <= 8 ? 'OB' : 'OW', padded, explicitVR);
  const out = new Uint8Array(head.length + padded);
  out.set(head, 0);
  let at = head.length;
  for (const frame of pixels.frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}

/** The File Meta Information with a new Transfer Syntax UID and group length, other elements as received. */
function metaHeader(bytes: Uint8Array, end: number, transferSyntax: string): Uint8Array {
  const kept: Uint8Array[] = [];
  let at = PREAMBLE_AND_PREFIX;
  while (at < end) {
    const tag = ((bytes[at] | (bytes[at + 1] << 8)) << 16) | (bytes[at + 2] | (bytes[at + 3] << 8));
    const vr = String.fromCharCode(bytes[at + 4], bytes[at + 5]);
    const long = LONG_LENGTH_VRS.has(vr);
    const length = long ? new DataView(bytes.buffer, bytes.byteOffset + at + 8, 4).getUint32(0, true) : bytes[at + 6] | (bytes[at + 7] << 8);
    const next = at + (long ? 12 : 8) + length;
    if (tag === 0x00020010) kept.push(element(0x00020010, 'UI', text(transferSyntax, '\0'), true));
    else if (tag !== 0x00020000) kept.push(bytes.subarray(at, next));
    at = next;
  }
  const group = kept.reduce((sum, chunk) => sum + chunk.length, 0);
  const lengthElement = element(0x00020000, 'UL', uint32(group), true);
  return concat([bytes.subarray(0, PREAMBLE_AND_PREFIX), lengthElement, ...kept]);
}

/** A little endian element in explicit or implicit VR. */
function element(tag: number, vr: string, value: Uint8Array, explicitVR: boolean): Uint8Array {
  return concat([elementHeader(tag, vr, value.length, explicitVR), value]);
}

/** ASCII text padded to an even length (space, or NUL for UIDs). */
function text(value: string, pad = ' '): Uint8Array {
  return new Uint8Array(Buffer.from(value.length % 2 === 0 ? value : value + pad, 'latin1'));
}

function uint16(value: number): Uint8Array {
  return new Uint8Array([value & 0xff, value >>> 8]);
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}
