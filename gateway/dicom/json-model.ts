/**
 * From a parsed data set (dicom-parser's element offsets) to the DICOM JSON Model of PS3.18
 * Annex F.2, reading each value in place: VR resolution for implicit VR data sets and for UN
 * values of known attributes (PS3.5 §6.2.2, §7.1.3, Annex A.1), value decoding per VR (PS3.5
 * §6.2, via `values.ts`), sequences (PS3.5 §7.5) with their character set inheritance, and bulk
 * data: binary values over a threshold, and pixel data always, become `BulkDataURI`s with their
 * byte location in the instance.
 */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import type { BulkDataLocation, DicomJson, DicomJsonAttribute } from './types.js';
import { charsetDecoder, defaultDecoder, type CharsetDecoder } from './charset.js';
import { dictionaryVR, isPrivateCreatorTag, isPrivateTag } from './dictionary.js';
import { BINARY_VRS, decodeValue, invalid, readUint16, tagLabel } from './values.js';

/** Binary values at most this long are written inline (base64), longer ones as bulk data. */
export const INLINE_BINARY_LIMIT = 1024;

/** Pixel Data, Float Pixel Data and Double Float Pixel Data: always bulk data (PS3.18 §8.6.1.2). */
const PIXEL_DATA_TAGS = new Set(['7FE00010', '7FE00008', '7FE00009']);

const KNOWN_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

/** What a data set (the root or an item) hands down to the items of its sequences. */
interface Scope {
  dataSet: DataSet;
  parent: Scope | undefined;
  /** VRs are in the bytes (false for implicit VR data sets and items inside UN values). */
  explicitVR: boolean;
  littleEndian: boolean;
  decoder: CharsetDecoder;
  /** Bulk data path prefix: '' or '00540016/0/'. */
  path: string;
  /** No element of this data set may extend past this offset. */
  end: number;
}

/** The result of converting a data set. */
export interface JsonModel {
  metadata: DicomJson;
  bulkData: BulkDataLocation[];
}

/** Options of {@link dataSetToJson}. */
export interface JsonModelOptions {
  explicitVR: boolean;
  littleEndian: boolean;
  /** Leave out group 0002 (the File Meta Information) at the top level. */
  skipMetaGroup: boolean;
}

/** The VR callback for dicom-parser's implicit VR reader: SQ for sequences, so their items are parsed. */
export function implicitVRCallback(tag: string): string | undefined {
  let vr = vrCache.get(tag);
  if (vr === undefined) {
    vr = dictionaryVR(tag.slice(1)) ?? '';
    vrCache.set(tag, vr);
  }
  return vr === '' ? undefined : vr;
}
const vrCache = new Map<string, string>();

/**
 * Converts the root data set of an instance to the DICOM JSON Model, and lists where its bulk
 * data values lie. Throws `INVALID_DICOM` for elements that do not fit in their container.
 */
export function dataSetToJson(root: DataSet, options: JsonModelOptions): JsonModel {
  const bulkData: BulkDataLocation[] = [];
  const scope: Scope = {
    dataSet: root,
    parent: undefined,
    explicitVR: options.explicitVR,
    littleEndian: options.littleEndian,
    decoder: defaultDecoder,
    path: '',
    end: root.byteArray.length,
  };
  const metadata = convertDataSet(scope, bulkData, options.skipMetaGroup);
  return { metadata, bulkData };
}

function convertDataSet(scope: Scope, bulkData: BulkDataLocation[], skipMetaGroup: boolean): DicomJson {
  const json: DicomJson = {};
  const elements = scope.dataSet.elements;
  const charset = elements.x00080005;
  if (charset !== undefined) scope.decoder = decoderFor(scope, charset);
  for (const key in elements) {
    const tag = hexTag(key);
    if (tag.startsWith('FFFE')) continue; // item and delimitation items
    if (skipMetaGroup && tag.startsWith('0002')) continue;
    json[tag] = convertElement(scope, tag, elements[key], bulkData);
  }
  return json;
}

const hexTags = new Map<string, string>();

/** dicom-parser's 'x7fe00010' -> '7FE00010' (cached: the same few hundred tags come again and again). */
function hexTag(key: string): string {
  let tag = hexTags.get(key);
  if (tag === undefined) {
    tag = key.slice(1).toUpperCase();
    if (hexTags.size < 100_000) hexTags.set(key, tag);
  }
  return tag;
}

function decoderFor(scope: Scope, element: Element): CharsetDecoder {
  checkBounds(scope, '00080005', element.dataOffset, element.length);
  const bytes = scope.dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  const terms = defaultDecoder
    .decode(bytes)
    .replace(/[\0 ]+$/, '')
    .split('\\')
    .map((t) => t.trim());
  return terms.length === 1 && terms[0] === '' ? defaultDecoder : charsetDecoder(terms);
}

function checkBounds(scope: Scope, tag: string, offset: number, length: number): void {
  const remaining = scope.end - offset;
  if (offset > scope.end || length > remaining) {
    throw invalid(`truncated: element ${tagLabel(tag)} declares ${length} bytes but only ${Math.max(0, remaining)} remain`);
  }
}

function convertElement(scope: Scope, tag: string, element: Element, bulkData: BulkDataLocation[]): DicomJsonAttribute {
  const vr = resolveVR(scope, tag, element);
  let littleEndian = scope.littleEndian;
  let childrenExplicit = scope.explicitVR;
  if (element.vr === 'UN' && scope.explicitVR && vr !== 'UN') {
    // A UN value of a known attribute: its bytes are Implicit VR Little Endian (PS3.5 §6.2.2).
    littleEndian = true;
    childrenExplicit = false;
  }
  if (vr === 'SQ') {
    if (element.items === undefined) parseItems(scope, element);
    if (!element.hadUndefinedLength) checkBounds(scope, tag, element.dataOffset, element.length);
    return convertSequence(scope, tag, element, childrenExplicit, littleEndian, bulkData);
  }
  if (element.encapsulatedPixelData) {
    if (element.dataOffset + element.length > scope.end) {
      throw invalid(`truncated: encapsulated pixel data ${tagLabel(tag)} runs past the end of the data set`);
    }
    // The value: the Basic Offset Table item and the fragment items, without the Sequence Delimitation Item.
    return bulk(scope, tag, vr, element.dataOffset, Math.max(0, element.length - 8), bulkData);
  }
  let length = element.length;
  if (element.hadUndefinedLength) {
    // Not a sequence, yet of undefined length: dicom-parser ran to the item delimitation item.
    length = Math.max(0, element.length - 8);
  }
  checkBounds(scope, tag, element.dataOffset, length);
  if (length === 0) return { vr };
  if (BINARY_VRS.has(vr)) {
    if (PIXEL_DATA_TAGS.has(tag) || length > INLINE_BINARY_LIMIT) {
      return bulk(scope, tag, vr, element.dataOffset, length, bulkData);
    }
    const bytes = scope.dataSet.byteArray;
    return {
      vr,
      InlineBinary: Buffer.from(bytes.buffer, bytes.byteOffset + element.dataOffset, length).toString('base64'),
    };
  }
  const values = decodeValue(scope.dataSet.byteArray, element.dataOffset, length, vr, littleEndian, scope.decoder);
  return values.length === 0 ? { vr } : { vr, Value: values };
}

function bulk(scope: Scope, tag: string, vr: string, offset: number, length: number, bulkData: BulkDataLocation[]): DicomJsonAttribute {
  const path = scope.path + tag;
  bulkData.push({ path, vr, offset, length });
  return { vr, BulkDataURI: `bulkdata/${path}` };
}

function convertSequence(scope: Scope, tag: string, element: Element, explicitVR: boolean, littleEndian: boolean, bulkData: BulkDataLocation[]): DicomJsonAttribute {
  const items = element.items ?? [];
  if (items.length === 0) return { vr: 'SQ' };
  const value: DicomJson[] = [];
  const sequenceEnd = element.hadUndefinedLength ? scope.end : element.dataOffset + element.length;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const itemEnd = item.hadUndefinedLength ? sequenceEnd : item.dataOffset + item.length;
    if (item.dataSet === undefined || itemEnd > sequenceEnd) {
      throw invalid(`truncated: item ${i + 1} of sequence ${tagLabel(tag)} runs past the end of its sequence`);
    }
    const child: Scope = {
      dataSet: item.dataSet,
      parent: scope,
      explicitVR,
      littleEndian,
      decoder: scope.decoder,
      path: `${scope.path}${tag}/${i}/`,
      end: itemEnd,
    };
    value.push(convertDataSet(child, bulkData, false));
  }
  return { vr: 'SQ', Value: value };
}

/** Parses the items of a sequence that dicom-parser left unparsed (defined length UN or private SQ). */
function parseItems(scope: Scope, element: Element): void {
  element.items = [];
  if (element.length === 0) return;
  if (element.dataOffset + element.length > scope.end) return; // reported by checkBounds
  const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, scope.dataSet.byteArray, element.dataOffset);
  // dicom-parser's typing says the callback returns a string; undefined ("unknown") is what it tests for.
  dicomParser.readSequenceItemsImplicit(stream, element, implicitVRCallback as (tag: string) => string);
}

/** The VR of an element: from the bytes (explicit VR), else from the dictionary and the context. */
function resolveVR(scope: Scope, tag: string, element: Element): string {
  if (scope.explicitVR && element.vr !== undefined) {
    const vr = element.vr;
    if (!KNOWN_VRS.has(vr)) {
      throw invalid(`element ${tagLabel(tag)} at offset ${element.dataOffset} has an unknown VR '${printable(vr)}'`);
    }
    if (vr !== 'UN') return vr;
    // PS3.5 §6.2.2: a UN value of an attribute this gateway knows is read with its real VR.
    if (element.items !== undefined) return 'SQ';
    if (isPrivateCreatorTag(tag)) return 'LO';
    if (isPrivateTag(tag)) return 'UN';
    const known = dictionaryVR(tag);
    return known === undefined || known === 'UN' ? 'UN' : disambiguate(scope, tag, known, element, true);
  }
  if (element.items !== undefined) return 'SQ';
  const known = dictionaryVR(tag);
  if (known === undefined) return 'UN';
  return disambiguate(scope, tag, known, element, false);
}

/** Resolves the dictionary's "OB or OW", "US or SS", "US or OW" the way PS3.5 Annex A and pydicom do. */
function disambiguate(scope: Scope, tag: string, vr: string, element: Element, fromUN: boolean): string {
  if (vr.length === 2) return vr;
  if (vr === 'OB or OW') {
    if (tag === '7FE00010' && element.hadUndefinedLength) return 'OB';
    // Implicit VR: always OW (PS3.5 A.1). A UN value in an explicit data set: OB for 8-bit pixels.
    if (fromUN && tag === '7FE00010') return (inherited(scope, 'x00280100') ?? 16) > 8 ? 'OW' : 'OB';
    return 'OW';
  }
  if (vr === 'US or SS') {
    const representation = inherited(scope, 'x00280103');
    return representation === 1 ? 'SS' : 'US';
  }
  if (vr === 'US or OW') {
    const descriptor = scope.dataSet.elements.x00283002;
    if (descriptor !== undefined && descriptor.length >= 2) {
      const entries = readUint16(scope.dataSet.byteArray, descriptor.dataOffset, scope.littleEndian);
      if (entries === 1) return 'US';
    }
    return 'OW';
  }
  return 'UN';
}

/** A US value of this data set or the nearest enclosing one (Pixel Representation). */
function inherited(scope: Scope | undefined, key: string): number | undefined {
  for (let s = scope; s !== undefined; s = s.parent) {
    const element = s.dataSet.elements[key];
    if (element !== undefined && element.length >= 2 && element.dataOffset + 2 <= s.dataSet.byteArray.length) {
      return readUint16(s.dataSet.byteArray, element.dataOffset, s.littleEndian);
    }
  }
  return undefined;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
