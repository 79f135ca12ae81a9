/**
 * Parsing of a received DICOM Part 10 instance (PS3.10 §7: preamble, 'DICM', File Meta
 * Information) and its data set (PS3.5 §7 in any transfer syntax of PS3.5 §10 and Annex A) into
 * what the gateway needs: the identifying UIDs, the PS3.18 F.2 JSON metadata, where the bulk data
 * and each frame of pixel data lie. dicom-parser finds the element offsets without copying; the
 * instance is never re-serialized. Anything that is not an understandable Part 10 instance is a
 * `GatewayError('INVALID_DICOM')` with a readable reason; no other exception escapes.
 */
import { inflateRawSync } from 'node:zlib';
import type { DataSet, Element } from 'dicom-parser';
import { GatewayError } from '../errors.js';
import type { DicomJson, ParsedInstance } from './types.js';
import { dataSetToJson } from './json-model.js';
import { readDataSet, readElements } from './reader.js';
import { pixelDataLayout, type ExtendedOffsetTable, type PixelDataElement } from './pixel-data.js';
import { transferSyntax, type TransferSyntax } from './transfer-syntax.js';
import { invalid, readUint16, tagLabel } from './values.js';
import { latin1 } from './charset.js';
import { checkElementBounds } from './element-bounds.js';

/** Options of {@link parseInstance}. */
export interface ParseOptions {
  /** Deflated data sets that inflate to more than this many bytes are refused with PAYLOAD_TOO_LARGE (default 1 GiB). */
  maxInflatedBytes?: number;
}

const DEFAULT_MAX_INFLATED = 1 << 30;
const PREAMBLE = 128;

/** dicom-parser warnings that only note a harmless end of data (everything else means a broken instance). */
const HARMLESS_WARNING = /in peeking to determine VR/;

/** The inflated views of deflated instances, kept as long as the ParsedInstance lives. */
const inflatedViews = new WeakMap<ParsedInstance, Uint8Array>();

/**
 * Parses a Part 10 instance. Offsets in the result refer to `bytes`, or for Deflated Explicit VR
 * Little Endian to {@link datasetView}. Throws `GatewayError` `INVALID_DICOM` when the bytes
 * are not an instance Aegis can understand, and `PAYLOAD_TOO_LARGE` when a deflated data set
 * inflates beyond `options.maxInflatedBytes` (inflation stops there: a decompression bomb costs at
 * most that much memory).
 */
export function parseInstance(bytes: Uint8Array, options: ParseOptions = {}): ParsedInstance {
  try {
    return parse(bytes, options);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw invalid(describeParserError(error), error);
  }
}

/**
 * The bytes that the offsets of `parsed` refer to: `bytes` itself, or for a deflated instance
 * the meta header followed by the inflated data set (computed once per parsed instance).
 */
export function datasetView(bytes: Uint8Array, parsed: ParsedInstance): Uint8Array {
  if (!parsed.deflated) return bytes;
  let view = inflatedViews.get(parsed);
  if (view === undefined) {
    const header = readMetaHeader(bytes);
    view = inflateDataSet(bytes, header.position, DEFAULT_MAX_INFLATED);
    inflatedViews.set(parsed, view);
  }
  return view;
}

/** The element tree behind a parsed instance, for byte-level editors (see {@link readInstanceTree}). */
export interface InstanceTree {
  /** The bytes the offsets refer to ({@link datasetView}). */
  view: Uint8Array;
  /** Where the data set starts (the end of the File Meta Information). */
  position: number;
  /** dicom-parser's elements of the data set, with their items, nested data sets and offsets. */
  dataSet: DataSet;
  /** How the data set is encoded (the VR style as found in the bytes, see PS3.5 and pydicom). */
  explicitVR: boolean;
  littleEndian: boolean;
}

/**
 * Reads the data set of an instance that {@link parseInstance} accepted again, as dicom-parser's
 * element tree (no value is copied): what a byte-level editor such as the de-identifier splices
 * over. Throws `INVALID_DICOM` like parseInstance.
 */
export function readInstanceTree(bytes: Uint8Array, parsed: ParsedInstance): InstanceTree {
  const header = readMetaHeader(bytes);
  const view = datasetView(bytes, parsed);
  const syntax = withDetectedVR(view, header.position, transferSyntax(header.transferSyntaxUID));
  const { dataSet, padding } = readPaddedDataSet(view, header.position, syntax);
  return { view: view.subarray(0, view.length - padding), position: header.position, dataSet, explicitVR: syntax.explicitVR, littleEndian: syntax.littleEndian };
}

function parse(bytes: Uint8Array, options: ParseOptions): ParsedInstance {
  if (!(bytes instanceof Uint8Array)) throw invalid('the instance is not a byte array');
  if (bytes.length < PREAMBLE + 4 || !hasPrefix(bytes)) {
    throw invalid(`no DICOM Part 10 meta header (missing 'DICM' prefix at offset ${PREAMBLE})`);
  }
  const header = readMetaHeader(bytes);
  const syntax = transferSyntax(header.transferSyntaxUID);
  if (header.position >= bytes.length) throw invalid('the instance has a meta header but no data set');

  const view = syntax.deflated ? inflateDataSet(bytes, header.position, options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED) : bytes;
  if (header.position >= view.length) throw invalid('the instance has a meta header but an empty data set');
  const detected = withDetectedVR(view, header.position, syntax);
  const { dataSet, padding } = readPaddedDataSet(view, header.position, detected);
  const fatal = dataSet.warnings.filter((w) => !HARMLESS_WARNING.test(w));
  if (fatal.length > 0) throw invalid(`truncated or malformed: ${readableTags(fatal[0])}`);
  checkElementBounds(dataSet, view.length - padding);

  const { metadata, bulkData } = dataSetToJson(dataSet, {
    explicitVR: detected.explicitVR,
    littleEndian: syntax.littleEndian,
    skipMetaGroup: true,
  });
  const sopClassUID = uid(metadata, '00080016');
  const sopInstanceUID = uid(metadata, '00080018');
  if (sopClassUID === '') throw invalid('the data set has no SOP Class UID (0008,0016)');
  if (sopInstanceUID === '') throw invalid('the data set has no SOP Instance UID (0008,0018)');

  const parsed: ParsedInstance = {
    transferSyntaxUID: header.transferSyntaxUID,
    sopClassUID,
    sopInstanceUID,
    studyInstanceUID: uid(metadata, '0020000D'),
    seriesInstanceUID: uid(metadata, '0020000E'),
    metadata,
    bulkData,
    deflated: syntax.deflated,
  };
  if (padding > 0) parsed.trailingPadding = padding;
  const pixelElement = dataSet.elements.x7fe00010;
  if (pixelElement !== undefined) {
    try {
      parsed.pixelData = pixelDataLayout({
        element: pixelDataElement(pixelElement),
        metadata,
        transferSyntax: syntax,
        view,
        extendedOffsetTable: extendedOffsetTable(dataSet, view, syntax),
      });
    } catch (error) {
      // Pixel Data whose frames cannot be told apart (a malformed Number of Frames, a value shorter
      // than its frames): the instance is still stored as received, its pixel data kept as opaque bytes.
      if (!(error instanceof GatewayError) || error.code !== 'INVALID_DICOM') throw error;
      parsed.unreadablePixelData = error.message;
    }
  }
  if (syntax.deflated) inflatedViews.set(parsed, view);
  return parsed;
}

function hasPrefix(bytes: Uint8Array): boolean {
  return bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** VRs with a reserved 2 bytes and a 4-byte length in Explicit VR (PS3.5 §7.1.2). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Reads the File Meta Information (PS3.10 §7.1: Explicit VR Little Endian, group 0002 only)
 * up to the first element of another group: where the data set starts, and its transfer syntax.
 */
export function readMetaHeader(bytes: Uint8Array): { position: number; transferSyntaxUID: string } {
  let position = PREAMBLE + 4;
  let transferSyntaxUID: string | undefined;
  while (position + 8 <= bytes.length && readUint16(bytes, position, true) === 0x0002) {
    const element = readUint16(bytes, position + 2, true);
    const vr = String.fromCharCode(bytes[position + 4], bytes[position + 5]);
    let length: number;
    let valueOffset: number;
    if (LONG_LENGTH_VRS.has(vr)) {
      if (position + 12 > bytes.length) break;
      length = new DataView(bytes.buffer, bytes.byteOffset + position + 8, 4).getUint32(0, true);
      valueOffset = position + 12;
    } else {
      length = readUint16(bytes, position + 6, true);
      valueOffset = position + 8;
    }
    const tag = `0002${element.toString(16).toUpperCase().padStart(4, '0')}`;
    if (length === 0xffffffff) throw invalid(`meta header element ${tagLabel(tag)} has an undefined length`);
    if (valueOffset + length > bytes.length) {
      throw invalid(`truncated: meta header element ${tagLabel(tag)} declares ${length} bytes but only ${bytes.length - valueOffset} remain`);
    }
    if (element === 0x0010) transferSyntaxUID = latin1(bytes.subarray(valueOffset, valueOffset + length));
    position = valueOffset + length;
  }
  if (transferSyntaxUID === undefined) throw invalid('the meta header has no Transfer Syntax UID (0002,0010)');
  transferSyntaxUID = transferSyntaxUID.replace(/[\0 ]+$/, '').trim();
  if (!/^[0-9]+(\.[0-9]+)*$/.test(transferSyntaxUID)) {
    throw invalid(`the meta header's Transfer Syntax UID (0002,0010) is not a UID: ${JSON.stringify(transferSyntaxUID)}`);
  }
  return { position, transferSyntaxUID };
}

const VR_CODES = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

/**
 * Some writers encode the data set with the other VR style than the transfer syntax says (for
 * example implicit VR under a JPEG transfer syntax). Like pydicom and DCMTK, look at the first
 * element: a little endian data set whose first element has (or lacks) a VR code is read so.
 */
function withDetectedVR(view: Uint8Array, position: number, syntax: TransferSyntax): TransferSyntax {
  if (!syntax.littleEndian || position + 6 > view.length) return syntax;
  const code = String.fromCharCode(view[position + 4], view[position + 5]);
  const looksExplicit = VR_CODES.has(code);
  return looksExplicit === syntax.explicitVR ? syntax : { ...syntax, explicitVR: looksExplicit };
}

/** The tag key dicom-parser gives what it reads from zero bytes: (0000,0000), no element of a data set. */
const ZERO_TAG = 'x00000000';

/**
 * Reads the data set after the meta header, which may be followed by zero bytes: some scanners pad
 * their files to a block size. Padding is no element (read as elements it is (0000,0000) with no
 * VR, or runs past the end): the data set ends where the last real element ends, provided that only
 * zero bytes follow it. The padding stays in the instance's bytes; `padding` says how long it is.
 */
function readPaddedDataSet(view: Uint8Array, position: number, syntax: TransferSyntax): { dataSet: DataSet; padding: number } {
  // Fast path: find the run of trailing zeros with a byte scan, and read only what precedes it, so
  // that a large pad is never read as millions of (0000,0000) elements. Any doubt: the full reading below.
  let zeros = view.length;
  while (zeros > position && view[zeros - 1] === 0) zeros--;
  if (zeros < view.length && zeros > position) {
    const head = readDataSet(view.subarray(0, zeros), position, syntax);
    try {
      readElements(head.dataSet, head.stream, syntax.explicitVR);
    } catch {
      // The last element's value may run into the zeros: its declared length says where it ends.
    }
    let end = position;
    let undefinedLength = false;
    for (const element of Object.values(head.dataSet.elements)) {
      if (element.tag === ZERO_TAG || element.length === undefined || element.dataOffset + element.length < end) continue;
      end = element.dataOffset + element.length;
      undefinedLength = element.hadUndefinedLength === true;
    }
    // An element of undefined length cut before its delimitation item (whose length field is zeros) has no reliable end.
    if (!undefinedLength && end >= zeros && end < view.length) return { dataSet: readInstanceDataSet(view.subarray(0, end), position, syntax), padding: view.length - end };
  }
  let failure: unknown;
  try {
    const dataSet = readInstanceDataSet(view, position, syntax);
    if (dataSet.elements[ZERO_TAG] === undefined) return { dataSet, padding: 0 };
  } catch (error) {
    if (view[view.length - 1] !== 0) throw error;
    failure = error;
  }
  const { dataSet, stream } = readDataSet(view, position, syntax);
  try {
    readElements(dataSet, stream, syntax.explicitVR);
  } catch {
    // Read as far as it goes: the elements before the padding are what matter.
  }
  let end = position;
  for (const element of Object.values(dataSet.elements)) {
    if (element.tag !== ZERO_TAG && element.length !== undefined) end = Math.max(end, element.dataOffset + element.length);
  }
  if (end <= position || end >= view.length || view.subarray(end).some((byte) => byte !== 0)) {
    if (failure !== undefined) throw failure;
    return { dataSet: readInstanceDataSet(view, position, syntax), padding: 0 };
  }
  return { dataSet: readInstanceDataSet(view.subarray(0, end), position, syntax), padding: view.length - end };
}

/** Reads the data set after the meta header; parser failures become readable INVALID_DICOM reasons. */
function readInstanceDataSet(view: Uint8Array, position: number, syntax: TransferSyntax): DataSet {
  const { dataSet, stream } = readDataSet(view, position, syntax);
  try {
    readElements(dataSet, stream, syntax.explicitVR);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    // Name the top-level element that runs past the end when there is one.
    const elements = Object.values(dataSet.elements);
    const last = elements[elements.length - 1];
    if (last !== undefined && last.dataOffset + last.length > view.length) {
      const tag = tagLabel(last.tag.slice(1).toUpperCase());
      if (last.hadUndefinedLength) {
        throw invalid(`truncated: element ${tag} (undefined length) runs past the end of the data set`, error);
      }
      throw invalid(`truncated: element ${tag} declares ${last.length} bytes but only ${Math.max(0, view.length - last.dataOffset)} remain`, error);
    }
    throw invalid(`${describeParserError(error)} (near offset ${stream.position} of ${view.length})`, error);
  }
  return dataSet;
}

/** Meta header followed by the raw-inflated data set (PS3.5 A.5). */
function inflateDataSet(bytes: Uint8Array, position: number, maxBytes: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes.subarray(position), { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new GatewayError('PAYLOAD_TOO_LARGE', `the deflated data set inflates to more than ${maxBytes} bytes`, { cause: error });
    }
    throw invalid(`the deflated data set cannot be inflated (${(error as Error).message})`, error);
  }
  const view = new Uint8Array(position + inflated.length);
  view.set(bytes.subarray(0, position), 0);
  view.set(inflated, position);
  return view;
}

function pixelDataElement(element: Element): PixelDataElement {
  return {
    dataOffset: element.dataOffset,
    length: element.length,
    encapsulated: element.encapsulatedPixelData === true,
    basicOffsetTable: element.basicOffsetTable ?? [],
    fragments: element.fragments ?? [],
  };
}

/** The Extended Offset Table (7FE0,0001) and its lengths (7FE0,0002), 64-bit little endian (PS3.5 A.4). */
function extendedOffsetTable(dataSet: DataSet, view: Uint8Array, syntax: TransferSyntax): ExtendedOffsetTable | undefined {
  const offsets = dataSet.elements.x7fe00001;
  if (offsets === undefined || !syntax.encapsulated) return undefined;
  const read = (element: Element | undefined): number[] | undefined => {
    if (element === undefined || element.length % 8 !== 0 || element.dataOffset + element.length > view.length) return undefined;
    const data = new DataView(view.buffer, view.byteOffset + element.dataOffset, element.length);
    const values: number[] = [];
    for (let at = 0; at < element.length; at += 8) values.push(Number(data.getBigUint64(at, true)));
    return values;
  };
  const table = read(offsets);
  return table === undefined ? undefined : { offsets: table, lengths: read(dataSet.elements.x7fe00002) };
}

function uid(metadata: DicomJson, tag: string): string {
  const value = metadata[tag]?.Value?.[0];
  return typeof value === 'string' ? value : '';
}

/** dicom-parser's 'x7fe00010' -> '(7FE0,0010)' inside a message. */
function readableTags(message: string): string {
  return message.replace(/\bx([0-9a-f]{4})([0-9a-f]{4})\b/g, (_, group: string, element: string) => `(${group.toUpperCase()},${element.toUpperCase()})`);
}

/** Turns what dicom-parser (or the runtime) threw into a readable reason. */
function describeParserError(error: unknown): string {
  let message: string;
  if (typeof error === 'string') message = error;
  else if (error instanceof RangeError && /call stack/i.test(error.message)) return 'sequences are nested too deeply';
  else if (error instanceof Error) message = error.message;
  else message = String(error);
  message = readableTags(message.replace(/^dicomParser[.:][\w.]*:\s*/, ''));
  if (/maxP ?osition/.test(message)) return 'truncated: an item runs past the end of its sequence or of the data set';
  if (/past end of buffer|buffer overrun|overread|cannot be greater than or equal to|invalid value for parameter 'maxP/i.test(message)) {
    return `truncated: the data set ends inside an element (${message})`;
  }
  return `malformed data set: ${message}`;
}
