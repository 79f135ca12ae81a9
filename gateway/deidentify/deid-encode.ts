/**
 * The few encodings the de-identifier writes (DICOM PS3.5 §7.1 data element structure in explicit
 * and implicit VR, either byte order; §7.5 items and delimitation items; §6.2 value padding):
 * element headers around new values, item headers around edited items, and new values (dummy
 * values, replaced UIDs, shifted dates, the De-identification Method attributes of PS3.3 C.7.1.1).
 * Everything else of a de-identified instance is copied from the original bytes.
 */
import { latin1 } from '../dicom/charset.js';
import { DUMMY_BINARY_LENGTH, dummyText, shiftDate } from './deid-plan.js';

/** VRs with 2 reserved bytes and a 32-bit length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const UNDEFINED_LENGTH = 0xffffffff;
export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION = 0xfffee00d;
export const SEQUENCE_DELIMITATION = 0xfffee0dd;

/** How a data set is encoded. */
export interface Encoding {
  explicitVR: boolean;
  littleEndian: boolean;
}

/** Bytes of an element header in the data set's encoding (tag: group << 16 | element). */
export function elementHeader(tag: number, vr: string, length: number, encoding: Encoding): Uint8Array {
  const long = !encoding.explicitVR || LONG_LENGTH_VRS.has(vr);
  const out = new Uint8Array(encoding.explicitVR && long ? 12 : 8);
  const view = new DataView(out.buffer);
  const le = encoding.littleEndian;
  view.setUint16(0, tag >>> 16, le);
  view.setUint16(2, tag & 0xffff, le);
  if (!encoding.explicitVR) {
    view.setUint32(4, length, le);
    return out;
  }
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, length, le);
  else if (length > 0xffff) throw new RangeError(`a ${vr} value of ${length} bytes does not fit a 16-bit length`);
  else view.setUint16(6, length, le);
  return out;
}

/** The length of the header of an element as found in the bytes. */
export function headerLength(vr: string | undefined, encoding: Encoding): number {
  return encoding.explicitVR && vr !== undefined && LONG_LENGTH_VRS.has(vr) ? 12 : 8;
}

/** An item, item delimitation or sequence delimitation header (tag, 32-bit length). */
export function itemHeader(tag: number, length: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint16(0, tag >>> 16, littleEndian);
  view.setUint16(2, tag & 0xffff, littleEndian);
  view.setUint32(4, length, littleEndian);
  return out;
}

/** Reads the tag at `at` (group << 16 | element) in the given byte order. */
export function readTag(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 4);
  return ((view.getUint16(0, littleEndian) << 16) | view.getUint16(2, littleEndian)) >>> 0;
}

/** Text (ASCII or already encoded latin1 code units) padded to an even length: NUL for UI, space otherwise. */
export function textValue(text: string, vr: string): Uint8Array {
  const padded = text.length % 2 === 0 ? text : text + (vr === 'UI' ? '\0' : ' ');
  return new Uint8Array(Buffer.from(padded, 'latin1'));
}

/** The dummy value of an attribute with this VR (see `dummyText`; binary VRs: zero bytes). */
export function dummyValue(tag: string, vr: string): Uint8Array {
  const text = dummyText(tag, vr);
  if (text !== undefined) return textValue(text, vr);
  return new Uint8Array(DUMMY_BINARY_LENGTH[vr] ?? 2);
}

/** The values of a string value (split on '\', trimmed of spaces and NULs) with `map` applied to each non-empty one. */
export function mapStringValues(bytes: Uint8Array, vr: string, map: (value: string) => string): Uint8Array {
  const values = latin1(bytes)
    .split('\\')
    .map((v) => v.replace(/^[\0 ]+|[\0 ]+$/g, ''));
  return textValue(values.map((v) => (v === '' ? '' : map(v))).join('\\'), vr);
}

/** DA or DT values shifted by `days` (see `shiftDate`). */
export function shiftedDates(bytes: Uint8Array, vr: string, days: number): Uint8Array {
  const out = mapStringValues(bytes, vr, (v) => shiftDate(v, days));
  return /^[\\ ]*$/.test(latin1(out)) ? new Uint8Array(0) : out;
}

/** A data element with a new value: header and value. */
export function newElement(tag: number, vr: string, value: Uint8Array, encoding: Encoding): Uint8Array[] {
  return [elementHeader(tag, vr, value.length, encoding), value];
}

/**
 * The De-identification Method Code Sequence (0012,0064) with one item per method: Code Value
 * (0008,0100), Coding Scheme Designator (0008,0102) 'DCM', Code Meaning (0008,0104); defined lengths.
 */
export function methodCodeSequence(methods: ReadonlyArray<{ code: string; meaning: string }>, encoding: Encoding): Uint8Array[] {
  const items: Uint8Array[] = [];
  for (const method of methods) {
    const body = [...newElement(0x00080100, 'SH', textValue(method.code, 'SH'), encoding), ...newElement(0x00080102, 'SH', textValue('DCM', 'SH'), encoding), ...newElement(0x00080104, 'LO', textValue(method.meaning, 'LO'), encoding)];
    items.push(itemHeader(ITEM, total(body), encoding.littleEndian), ...body);
  }
  return [elementHeader(0x00120064, 'SQ', total(items), encoding), ...items];
}

/** The summed length of some chunks. */
export function total(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}
