/**
 * Reading the data elements of a data set (PS3.5 §7.1 data element structure, §7.5 nesting of
 * sequences and items, Annex A.4 encapsulated pixel data) into dicom-parser's element records:
 * tag, VR, value offset and length, items, fragments. No value is copied.
 *
 * Implicit VR data sets go through dicom-parser's own reader. Explicit VR elements are read here
 * with dicom-parser's ByteStream and helpers, because dicom-parser 1.8 does not know the 32-bit
 * length VRs added by DICOM 2016-2019 (OV, SV, UV: the Extended Offset Table is OV) and would lose
 * its place in the data set after one of them.
 */
import dicomParser from 'dicom-parser';
import type { ByteStream, DataSet, Element } from 'dicom-parser';
import type { TransferSyntax } from './transfer-syntax.js';
import { implicitVRCallback } from './json-model.js';

/** VRs with 2 reserved bytes and a 32-bit length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 'xfffee000';
const ITEM_DELIMITATION = 'xfffee00d';
const SEQUENCE_DELIMITATION = 'xfffee0dd';

/** dicom-parser's DataSet constructor (exported at run time, typed only as an interface). */
const DataSetClass = (
  dicomParser as unknown as {
    DataSet: new (parser: dicomParser.ByteArrayParser, bytes: Uint8Array, elements: Record<string, Element>) => DataSet;
  }
).DataSet;

const vrCallback = implicitVRCallback as (tag: string) => string;

/** Reads the data set that starts at `position` and runs to the end of `view`. */
export function readDataSet(
  view: Uint8Array,
  position: number,
  syntax: Pick<TransferSyntax, 'explicitVR' | 'littleEndian'>,
): {
  dataSet: DataSet;
  stream: ByteStream;
} {
  const parser = syntax.littleEndian ? dicomParser.littleEndianByteArrayParser : dicomParser.bigEndianByteArrayParser;
  const stream = new dicomParser.ByteStream(parser, view, position);
  const dataSet = new DataSetClass(parser, view, {});
  dataSet.warnings = stream.warnings;
  return { dataSet, stream };
}

/** Fills `dataSet` from `stream` (see {@link readDataSet}); throws what the readers throw. */
export function readElements(dataSet: DataSet, stream: ByteStream, explicitVR: boolean): void {
  const end = stream.byteArray.length;
  if (explicitVR) readExplicitElements(dataSet, stream, end);
  else readImplicitElements(dataSet, stream, end);
}

/**
 * Implicit VR: dicom-parser only recognizes encapsulated Pixel Data in explicit VR data sets, so
 * stop at (7FE0,0010), read its fragments, and go on with the rest of the data set.
 */
function readImplicitElements(dataSet: DataSet, stream: ByteStream, end: number): void {
  dicomParser.parseDicomDataSetImplicit(dataSet, stream, end, { untilTag: 'x7fe00010', vrCallback });
  const pixels = dataSet.elements.x7fe00010;
  if (pixels === undefined || stream.position >= end) return;
  if (pixels.hadUndefinedLength) dicomParser.findEndOfEncapsulatedElement(stream, pixels, dataSet.warnings);
  else stream.seek(pixels.length);
  if (stream.position < end) dicomParser.parseDicomDataSetImplicit(dataSet, stream, end, { untilTag: '', vrCallback });
}

function readExplicitElements(dataSet: DataSet, stream: ByteStream, end: number): void {
  const elements = dataSet.elements;
  while (stream.position < end) {
    const element = readExplicitElement(stream, dataSet.warnings);
    elements[element.tag] = element;
  }
  if (stream.position > end) throw 'buffer overrun';
}

/** dicom-parser's tag key ('x' and 8 lower-case hex digits) of a numeric tag, cached. */
const tagKeys = new Map<number, string>();
function tagKey(tag: number): string {
  let key = tagKeys.get(tag);
  if (key === undefined) {
    key = `x${tag.toString(16).padStart(8, '0')}`;
    if (tagKeys.size < 100_000) tagKeys.set(tag, key);
  }
  return key;
}

/** The VR strings by their two bytes, so that no string is built per element. */
const vrStrings = new Map<number, string>();
function vrString(b0: number, b1: number): string {
  const code = (b0 << 8) | b1;
  let vr = vrStrings.get(code);
  if (vr === undefined) {
    vr = String.fromCharCode(b0, b1);
    vrStrings.set(code, vr);
  }
  return vr;
}

function readUint16At(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian ? bytes[at] | (bytes[at + 1] << 8) : (bytes[at] << 8) | bytes[at + 1];
}

function readUint32At(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  return littleEndian ? (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0 : ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** Reads one explicit VR element header from the bytes directly, then its value (PS3.5 §7.1.2). */
function readExplicitElement(stream: ByteStream, warnings: string[]): Element {
  const bytes = stream.byteArray as Uint8Array;
  const at = stream.position;
  const littleEndian = stream.byteArrayParser === dicomParser.littleEndianByteArrayParser;
  if (at + 8 > bytes.length) throw 'buffer overrun: an element header runs past the end of the data';
  const tag = tagKey(readUint16At(bytes, at, littleEndian) * 0x10000 + readUint16At(bytes, at + 2, littleEndian));
  const vr = vrString(bytes[at + 4], bytes[at + 5]);
  let length: number;
  if (LONG_LENGTH_VRS.has(vr)) {
    if (at + 12 > bytes.length) throw 'buffer overrun: an element header runs past the end of the data';
    length = readUint32At(bytes, at + 8, littleEndian);
    stream.position = at + 12;
  } else {
    length = readUint16At(bytes, at + 6, littleEndian);
    stream.position = at + 8;
  }
  const element: Element = { tag, vr, length, dataOffset: stream.position };
  if (vr === 'SQ') {
    readExplicitSequence(stream, element, warnings);
    return element;
  }
  if (length !== UNDEFINED_LENGTH) {
    stream.seek(length);
    return element;
  }
  element.hadUndefinedLength = true;
  if (tag === 'x7fe00010') dicomParser.findEndOfEncapsulatedElement(stream, element, warnings);
  else if (vr === 'UN')
    dicomParser.readSequenceItemsImplicit(stream, element, vrCallback); // PS3.5 §6.2.2
  else dicomParser.findItemDelimitationItemAndSetElementLength(stream, element);
  return element;
}

function readExplicitSequence(stream: ByteStream, element: Element, warnings: string[]): void {
  const items: Element[] = [];
  element.items = items;
  const size = stream.byteArray.length;
  if (element.length !== UNDEFINED_LENGTH) {
    const end = element.dataOffset + element.length;
    while (stream.position < end) items.push(readExplicitItem(stream, warnings));
    if (stream.position > end) throw 'buffer overrun in a sequence of defined length';
    return;
  }
  element.hadUndefinedLength = true;
  while (stream.position + 8 <= size) {
    const tag = dicomParser.readTag(stream);
    if (tag === SEQUENCE_DELIMITATION) {
      stream.seek(4);
      element.length = stream.position - element.dataOffset;
      return;
    }
    stream.seek(-4);
    items.push(readExplicitItem(stream, warnings));
  }
  warnings.push('eof encountered before finding sequence delimitation tag while reading sequence of undefined length');
  element.length = size - element.dataOffset;
}

function readExplicitItem(stream: ByteStream, warnings: string[]): Element {
  const item = dicomParser.readSequenceItem(stream) as Element;
  if (item.tag !== ITEM) throw `item tag (FFFE,E000) not found at offset ${stream.position - 8}`;
  const dataSet = new DataSetClass(stream.byteArrayParser, stream.byteArray as Uint8Array, {});
  dataSet.warnings = warnings;
  item.dataSet = dataSet;
  if (item.length !== UNDEFINED_LENGTH) {
    const end = item.dataOffset + item.length;
    if (end > stream.byteArray.length) throw 'buffer overrun: an item runs past the end of the data';
    readExplicitElements(dataSet, stream, end);
    return item;
  }
  item.hadUndefinedLength = true;
  const size = stream.byteArray.length;
  while (stream.position + 8 <= size) {
    const tag = dicomParser.readTag(stream);
    if (tag === ITEM_DELIMITATION) {
      stream.seek(4);
      item.length = stream.position - item.dataOffset;
      return item;
    }
    stream.seek(-4);
    const element = readExplicitElement(stream, warnings);
    dataSet.elements[element.tag] = element;
  }
  warnings.push('eof encountered before finding item delimiter tag while reading sequence item of undefined length');
  item.length = size - item.dataOffset;
  return item;
}
