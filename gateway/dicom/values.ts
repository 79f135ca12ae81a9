/**
 * Decoding of one element value per Value Representation (DICOM PS3.5 §6.2, Table 6.2-1) into
 * the value array of the DICOM JSON Model (PS3.18 F.2.3 and F.2.5): strings split on the value
 * delimiter and stripped of their padding, IS/DS as numbers, PN as component groups (F.2.2), binary
 * numbers in the data set's byte order, AT as 8 hex digits.
 */
import { GatewayError } from '../errors.js';
import { defaultDecoder, latin1, type CharsetDecoder } from './charset.js';

/** VRs whose values are bytes (InlineBinary or BulkDataURI in JSON). */
export const BINARY_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

/** VRs decoded with the Specific Character Set (PS3.5 §6.1.2.3); all others are ISO 646 / 8859-1. */
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'PN', 'UC']);
/** Text VRs with a single value: the backslash is an ordinary character (PS3.5 §6.4). */
const SINGLE_VALUE_VRS = new Set(['LT', 'ST', 'UT', 'UR']);
/** VRs whose leading padding is not significant either (dates, times, UIDs, numbers as strings). */
const TRIM_BOTH_VRS = new Set(['DA', 'TM', 'DT', 'UI', 'IS', 'DS']);

/** Bytes per value of the binary number VRs. */
const NUMBER_SIZE: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, UV: 8, SV: 8, AT: 4 };

/** A decimal string as PS3.5 allows for IS and DS (and nothing looser, such as hex or Infinity). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** An `INVALID_DICOM` error with a human readable reason. */
export function invalid(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('INVALID_DICOM', reason, cause === undefined ? {} : { cause });
}

/** '7FE00010' -> '(7FE0,0010)'. */
export function tagLabel(tag: string): string {
  return `(${tag.slice(0, 4)},${tag.slice(4, 8)})`;
}

/** Reads one unsigned 16-bit number at `offset`. */
export function readUint16(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  return littleEndian ? bytes[offset] | (bytes[offset + 1] << 8) : (bytes[offset] << 8) | bytes[offset + 1];
}

/**
 * The JSON `Value` array of one element value (not SQ, not binary). An empty array means an
 * empty value (the attribute then carries no `Value`). Empty values inside a multi-valued
 * attribute are `null` (PS3.18 F.2.5).
 */
export function decodeValue(bytes: Uint8Array, offset: number, length: number, vr: string, littleEndian: boolean, decoder: CharsetDecoder): unknown[] {
  const size = NUMBER_SIZE[vr];
  if (size !== undefined) return decodeNumbers(bytes, offset, length, vr, size, littleEndian);
  const text = CHARSET_VRS.has(vr) && decoder !== defaultDecoder ? decoder.decode(bytes.subarray(offset, offset + length)) : latin1(bytes, offset, offset + length);
  if (SINGLE_VALUE_VRS.has(vr)) {
    const value = trimEnd(text);
    return value === '' ? [] : [value];
  }
  const parts = text.split('\\');
  const trimBoth = TRIM_BOTH_VRS.has(vr);
  const values: unknown[] = new Array(parts.length);
  let empty = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = trimBoth ? trimAll(parts[i]) : trimEnd(parts[i]);
    if (part === '') {
      values[i] = null;
      empty++;
    } else if (vr === 'IS' || vr === 'DS') {
      values[i] = decimal(part);
    } else if (vr === 'PN') {
      values[i] = personName(part);
    } else {
      values[i] = part;
    }
  }
  return empty === parts.length ? [] : values;
}

function decodeNumbers(bytes: Uint8Array, offset: number, length: number, vr: string, size: number, littleEndian: boolean): unknown[] {
  const count = Math.floor(length / size);
  if (vr === 'US' || vr === 'UL' || vr === 'SS' || vr === 'SL') return decodeIntegers(bytes, offset, count, vr, littleEndian);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * size);
  const values: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * size;
    switch (vr) {
      case 'FL':
        values[i] = finiteOrString(view.getFloat32(at, littleEndian));
        break;
      case 'FD':
        values[i] = finiteOrString(view.getFloat64(at, littleEndian));
        break;
      case 'UV':
        values[i] = safeInteger(view.getBigUint64(at, littleEndian));
        break;
      case 'SV':
        values[i] = safeInteger(view.getBigInt64(at, littleEndian));
        break;
      case 'AT': {
        const group = view.getUint16(at, littleEndian);
        const element = view.getUint16(at + 2, littleEndian);
        values[i] = ((group << 16) | element) >>> 0;
        values[i] = (values[i] as number).toString(16).toUpperCase().padStart(8, '0');
        break;
      }
    }
  }
  return values;
}

/** US, UL, SS, SL read byte by byte (no DataView for the most common values). */
function decodeIntegers(bytes: Uint8Array, offset: number, count: number, vr: string, littleEndian: boolean): number[] {
  const values: number[] = new Array(count);
  const wide = vr === 'UL' || vr === 'SL';
  for (let i = 0; i < count; i++) {
    let value: number;
    if (wide) {
      const at = offset + i * 4;
      value = littleEndian ? bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24) : (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
      if (vr === 'UL') value >>>= 0;
    } else {
      value = readUint16(bytes, offset + i * 2, littleEndian);
      if (vr === 'SS' && value >= 0x8000) value -= 0x10000;
    }
    values[i] = value;
  }
  return values;
}

/** NaN and infinities have no JSON number: they are written as the strings "NaN", "Infinity", "-Infinity". */
function finiteOrString(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function safeInteger(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** An IS or DS value as a JSON number; a value that is not a finite decimal stays a (trimmed) string. */
function decimal(text: string): number | string {
  if (!DECIMAL.test(text)) return text;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

/** A PN value as its component groups (PS3.18 F.2.2); empty groups are left out. */
function personName(text: string): Record<string, string> | null {
  const groups = text.split('=');
  const name: Record<string, string> = {};
  if (groups[0]) name.Alphabetic = groups[0];
  if (groups[1]) name.Ideographic = groups[1];
  if (groups[2]) name.Phonetic = groups[2];
  return Object.keys(name).length === 0 ? null : name;
}

/** Strips trailing spaces and NULs (PS3.5 §6.2 padding). */
function trimEnd(text: string): string {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0) break;
    end--;
  }
  return end === text.length ? text : text.slice(0, end);
}

/** Strips leading and trailing spaces and NULs. */
function trimAll(text: string): string {
  let start = 0;
  while (start < text.length) {
    const c = text.charCodeAt(start);
    if (c !== 0x20 && c !== 0) break;
    start++;
  }
  return trimEnd(start === 0 ? text : text.slice(start));
}
