/**
 * De-identification of a DICOM Part 10 instance by byte splicing (DICOM PS3.15 Annex E, Basic
 * Application Level Confidentiality Profile, with the Retain UIDs and Retain Longitudinal Temporal
 * Information options; see `deid-plan.ts` for the decisions). The result is a derived instance:
 * the bytes of every attribute the profile does not touch are copied as they are (Pixel Data
 * included), edited attributes are re-encoded in place, at every depth of sequences and items, and
 * every length that an edit changes is rewritten (defined-length sequences and items around it,
 * group lengths). Patient Identity Removed (0012,0062), De-identification Method (0012,0063) and its
 * Code Sequence (0012,0064) are inserted at their places in the top-level data set (PS3.15 E.1.1,
 * PS3.3 C.7.1.1). The derived file is Aegis's: its 128-byte preamble is zeros and its File Meta
 * Information is written anew with only what a valid file needs (PS3.10 §7.1), naming Aegis as the
 * implementation; nothing of the original's preamble or meta elements (AE titles, private
 * information) is carried over.
 *
 * The parser's element offsets are trusted only after checking them: every element and item must
 * start with its tag and end exactly where the next one starts (or with its delimitation item).
 * Bytes the parser did not account for (for example a repeated tag that dicom-parser keeps only
 * once) could hide identity, so such an instance is refused with DEIDENTIFICATION_FAILED.
 *
 * Deflated Explicit VR Little Endian: the inflated data set is edited and deflated again (the
 * deflate stream of a derived instance need not be the original's).
 */
import { deflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { GatewayError } from '../errors.js';
import { parseInstance, readInstanceTree } from '../dicom/parse.js';
import { implicitVRCallback } from '../dicom/json-model.js';
import { dictionaryVR, isPrivateCreatorTag, isPrivateTag } from '../dicom/dictionary.js';
import { DeidentificationPlan, methodDescription, newReport, noteBurnedInAnnotation, noteOpaque, patientOf, type DeidentificationReport, type DeidentifyOptions } from './deid-plan.js';
import {
  dummyValue,
  elementHeader,
  headerLength,
  ITEM,
  ITEM_DELIMITATION,
  itemHeader,
  mapStringValues,
  methodCodeSequence,
  newElement,
  readTag,
  SEQUENCE_DELIMITATION,
  shiftedDates,
  textValue,
  total,
  UNDEFINED_LENGTH,
  type Encoding,
} from './deid-encode.js';

/** A de-identified instance and what was done to it. */
export interface DeidentifiedInstance {
  bytes: Uint8Array;
  report: DeidentificationReport;
}

/** The output of one element of a data set. */
interface Piece {
  /** group << 16 | element. */
  tag: number;
  chunks: Uint8Array[];
  length: number;
  changed: boolean;
}

/**
 * Implementation Class UID (0002,0012) of the files Aegis writes: a UUID-derived UID (PS3.5 B.2),
 * fixed for the implementation (PS3.7 D.3.3.2).
 */
export const AEGIS_IMPLEMENTATION_CLASS_UID = '2.25.51659052221587143327063834527606340771';
/** Implementation Version Name (0002,0013) of the files Aegis writes (SH, at most 16 characters). */
export const AEGIS_IMPLEMENTATION_VERSION_NAME = 'AEGIS_0.1';

const PREAMBLE_AND_PREFIX = 132;
const FIRST_AFTER_METHOD_TAGS = 0x00120065;

/**
 * De-identifies a Part 10 instance. Throws INVALID_DICOM when `parseInstance` would reject the
 * bytes, DEIDENTIFICATION_FAILED when their structure cannot be edited safely, INTERNAL for
 * unusable options (unknown mask entries; no key where UIDs are replaced or dates shifted).
 */
export function deidentifyInstance(bytes: Uint8Array, options: DeidentifyOptions = {}): DeidentifiedInstance {
  const plan = new DeidentificationPlan(options);
  const parsed = parseInstance(bytes);
  const tree = readInstanceTree(bytes, parsed);
  const report = newReport(plan);
  if (plan.profile === 'basic') noteBurnedInAnnotation(report, parsed.metadata['00280301']?.Value?.[0]);
  const encoding: Encoding = { explicitVR: tree.explicitVR, littleEndian: tree.littleEndian };
  const editor = new Splicer(plan, report, tree.view, patientOf(parsed.metadata));

  const pieces = editor.dataSet(tree.dataSet, encoding, tree.position, tree.view.length, 0);
  if (plan.profile === 'basic') insertMethodAttributes(pieces, plan, encoding);
  const dataSet = joinLevel(pieces, encoding);
  const meta = fileMetaInformation(plan, parsed);

  const body = parsed.deflated ? [new Uint8Array(deflateRawSync(concat(dataSet)))] : dataSet;
  return { bytes: concat([preambleAndPrefix(), ...meta, ...body]), report };
}

/** A zero preamble and 'DICM' (PS3.10 §7.1): nothing of the original's preamble, which may hold anything. */
function preambleAndPrefix(): Uint8Array {
  const out = new Uint8Array(PREAMBLE_AND_PREFIX);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  return out;
}

/**
 * The File Meta Information of the derived file (PS3.10 §7.1), written anew with what a valid file
 * needs and nothing else of the original's (whose Source, Sending and Receiving AE Titles, Private
 * Information and implementation may name people and places): Group Length, Version 00 01, Media
 * Storage SOP Class and Instance UIDs equal to the data set's (the new SOP Instance UID when UIDs
 * are replaced), the Transfer Syntax UID, and Aegis, which wrote the file, as the implementation.
 */
function fileMetaInformation(plan: DeidentificationPlan, parsed: ReturnType<typeof parseInstance>): Uint8Array[] {
  const encoding: Encoding = { explicitVR: true, littleEndian: true };
  const sopInstance = plan.decide('00020003', 'UI', 0).op === 'uid' ? plan.replaceUid(parsed.sopInstanceUID) : parsed.sopInstanceUID;
  const elements = [
    ...newElement(0x00020001, 'OB', new Uint8Array([0x00, 0x01]), encoding),
    ...newElement(0x00020002, 'UI', textValue(parsed.sopClassUID, 'UI'), encoding),
    ...newElement(0x00020003, 'UI', textValue(sopInstance, 'UI'), encoding),
    ...newElement(0x00020010, 'UI', textValue(parsed.transferSyntaxUID, 'UI'), encoding),
    ...newElement(0x00020012, 'UI', textValue(AEGIS_IMPLEMENTATION_CLASS_UID, 'UI'), encoding),
    ...newElement(0x00020013, 'SH', textValue(AEGIS_IMPLEMENTATION_VERSION_NAME, 'SH'), encoding),
  ];
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, total(elements), true);
  return [...newElement(0x00020000, 'UL', length, encoding), ...elements];
}

/** Walks the element tree, deciding each element and re-encoding what changes. */
class Splicer {
  private days: number | undefined;

  constructor(
    private readonly plan: DeidentificationPlan,
    private readonly report: DeidentificationReport,
    private readonly bytes: Uint8Array,
    private readonly patient: string,
  ) {}

  /** The pieces of the data set whose elements fill [start, end) exactly. */
  dataSet(dataSet: DataSet, encoding: Encoding, start: number, end: number, depth: number): Piece[] {
    const elements = Object.values(dataSet.elements)
      .filter((e) => !e.tag.startsWith('xfffe'))
      .sort((a, b) => a.dataOffset - b.dataOffset);
    const starts = elements.map((e) => e.dataOffset - headerLength(e.vr, encoding));
    if ((starts[0] ?? end) !== start) throw refuse(`bytes at offset ${start} belong to no element`);
    return elements.map((element, i) => {
      const elementEnd = i + 1 < elements.length ? starts[i + 1] : end;
      this.checkExtent(element, encoding, starts[i], elementEnd);
      return this.element(element, encoding, starts[i], elementEnd, depth);
    });
  }

  private element(element: Element, encoding: Encoding, start: number, end: number, depth: number): Piece {
    const tag = parseInt(element.tag.slice(1), 16) >>> 0;
    const hex = hexTag(tag);
    const vr = resolveVR(element, hex, encoding);
    const decision = this.plan.decide(hex, vr, depth);
    if (decision.count !== undefined) this.report.counts[decision.count]++;
    noteOpaque(this.report, hex, vr, decision);
    const headerVR = element.vr ?? vr;
    const value = (): Uint8Array => this.bytes.subarray(element.dataOffset, element.hadUndefinedLength ? end - 8 : end);
    switch (decision.op) {
      case 'keep':
        return vr === 'SQ' ? this.sequence(element, hex, encoding, start, end, depth) : piece(tag, [this.bytes.subarray(start, end)], false);
      case 'remove':
        return piece(tag, [], true);
      case 'empty':
        return piece(tag, [elementHeader(tag, headerVR, 0, encoding)], true);
      case 'dummy':
        if (vr === 'SQ') {
          const item = itemHeader(ITEM, 0, childEncoding(element, encoding).littleEndian);
          return piece(tag, [elementHeader(tag, headerVR, item.length, encoding), item], true);
        }
        if (vr === 'UI') return piece(tag, newElement(tag, headerVR, this.replaceUids(value()), encoding), true);
        return piece(tag, newElement(tag, headerVR, dummyValue(hex, vr), encoding), true);
      case 'uid':
        return piece(tag, newElement(tag, headerVR, this.replaceUids(value()), encoding), true);
      case 'shift':
        this.days ??= this.plan.shiftDays(this.patient);
        return piece(tag, newElement(tag, headerVR, shiftedDates(value(), vr, this.days), encoding), true);
    }
  }

  private replaceUids(value: Uint8Array): Uint8Array {
    return mapStringValues(value, 'UI', (uid) => this.plan.replaceUid(uid));
  }

  /** A kept sequence: its items are de-identified; it is re-encoded only if one of them changed. */
  private sequence(element: Element, hex: string, encoding: Encoding, start: number, end: number, depth: number): Piece {
    const tag = parseInt(hex, 16) >>> 0;
    const items = sequenceItems(element, this.bytes, hex);
    const child = childEncoding(element, encoding);
    const undefinedLength = element.hadUndefinedLength === true;
    const valueEnd = undefinedLength ? end - 8 : end;
    if ((items.length > 0 ? items[0].dataOffset - 8 : valueEnd) !== element.dataOffset) {
      throw refuse(`bytes at offset ${element.dataOffset} of sequence ${label(hex)} belong to no item`);
    }
    const edited: Array<{ start: number; end: number; content: Uint8Array[] | undefined; undefinedLength: boolean }> = [];
    items.forEach((item, i) => {
      const itemStart = item.dataOffset - 8;
      const itemEnd = i + 1 < items.length ? items[i + 1].dataOffset - 8 : valueEnd;
      if (readTag(this.bytes, itemStart, child.littleEndian) !== ITEM) throw refuse(`no item tag at offset ${itemStart} in ${label(hex)}`);
      const contentEnd = item.hadUndefinedLength ? itemEnd - 8 : itemEnd;
      if (item.hadUndefinedLength) this.checkDelimiter(contentEnd, child, [ITEM_DELIMITATION], hex);
      else if (item.dataOffset + item.length !== itemEnd) throw refuse(`item ${i + 1} of ${label(hex)} does not end where the next one starts`);
      if (item.dataSet === undefined) throw refuse(`item ${i + 1} of ${label(hex)} was not parsed`);
      const pieces = this.dataSet(item.dataSet, child, item.dataOffset, contentEnd, depth + 1);
      const changed = pieces.some((p) => p.changed);
      edited.push({ start: itemStart, end: itemEnd, content: changed ? joinLevel(pieces, child) : undefined, undefinedLength: item.hadUndefinedLength === true });
    });
    if (edited.every((e) => e.content === undefined)) return piece(tag, [this.bytes.subarray(start, end)], false);

    const body: Uint8Array[] = [];
    for (const item of edited) {
      if (item.content === undefined) {
        body.push(this.bytes.subarray(item.start, item.end));
      } else if (item.undefinedLength) {
        body.push(itemHeader(ITEM, UNDEFINED_LENGTH, child.littleEndian), ...item.content, itemHeader(ITEM_DELIMITATION, 0, child.littleEndian));
      } else {
        body.push(itemHeader(ITEM, total(item.content), child.littleEndian), ...item.content);
      }
    }
    if (undefinedLength) body.push(this.bytes.subarray(end - 8, end));
    const header = elementHeader(tag, element.vr ?? 'SQ', undefinedLength ? UNDEFINED_LENGTH : total(body), encoding);
    return piece(tag, [header, ...body], true);
  }

  /** The element starts with its tag and ends exactly at `end` (with its delimitation item if of undefined length). */
  private checkExtent(element: Element, encoding: Encoding, start: number, end: number): void {
    const hex = element.tag.slice(1).toUpperCase();
    if (start < 0 || readTag(this.bytes, start, encoding.littleEndian) !== parseInt(hex, 16) >>> 0) {
      throw refuse(`element ${label(hex)} does not start with its tag`);
    }
    if (element.hadUndefinedLength) {
      if (end - 8 < element.dataOffset) throw refuse(`element ${label(hex)} of undefined length has no delimitation item`);
      this.checkDelimiter(end - 8, encoding, [SEQUENCE_DELIMITATION, ITEM_DELIMITATION], hex);
    } else if (element.dataOffset + element.length !== end) {
      throw refuse(`bytes after element ${label(hex)} belong to no element`);
    }
  }

  private checkDelimiter(at: number, encoding: Encoding, tags: number[], hex: string): void {
    const tag = readTag(this.bytes, at, encoding.littleEndian);
    const length = new DataView(this.bytes.buffer, this.bytes.byteOffset + at + 4, 4).getUint32(0, encoding.littleEndian);
    if (!tags.includes(tag) || length !== 0) throw refuse(`no delimitation item at offset ${at} in ${label(hex)}`);
  }
}

/** Patient Identity Removed, De-identification Method and its Code Sequence, at their sorted place. */
function insertMethodAttributes(pieces: Piece[], plan: DeidentificationPlan, encoding: Encoding): void {
  const inserted = [
    piece(0x00120062, newElement(0x00120062, 'CS', textValue('YES', 'CS'), encoding), true),
    piece(0x00120063, newElement(0x00120063, 'LO', textValue(methodDescription(plan.methods).join('\\'), 'LO'), encoding), true),
    piece(0x00120064, methodCodeSequence(plan.methods, encoding), true),
  ];
  const at = pieces.findIndex((p) => p.tag >= FIRST_AFTER_METHOD_TAGS);
  pieces.splice(at === -1 ? pieces.length : at, 0, ...inserted);
}

/** The chunks of one data set level, with its group lengths (gggg,0000) rewritten where a group changed. */
function joinLevel(pieces: Piece[], encoding: Encoding): Uint8Array[] {
  pieces.forEach((p, i) => {
    if ((p.tag & 0xffff) !== 0 || p.length === 0) return;
    const group = p.tag >>> 16;
    const members = [];
    for (let j = i + 1; j < pieces.length && pieces[j].tag >>> 16 === group; j++) members.push(pieces[j]);
    if (!members.some((m) => m.changed)) return;
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(
      0,
      members.reduce((n, m) => n + m.length, 0),
      encoding.littleEndian,
    );
    const rewritten = piece(p.tag, newElement(p.tag, 'UL', value, encoding), true);
    pieces[i] = rewritten;
  });
  return pieces.flatMap((p) => p.chunks);
}

/** The items of a sequence; those of a defined-length UN value are parsed as json-model.ts does. */
function sequenceItems(element: Element, bytes: Uint8Array, hex: string): Element[] {
  if (element.items !== undefined) return element.items;
  if (element.hadUndefinedLength) throw refuse(`the items of ${label(hex)} were not parsed`);
  element.items = [];
  if (element.length === 0) return element.items;
  const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, element.dataOffset);
  try {
    dicomParser.readSequenceItemsImplicit(stream, element, implicitVRCallback as (tag: string) => string);
  } catch (error) {
    throw refuse(`the items of ${label(hex)} cannot be read`, error);
  }
  return element.items;
}

/** The encoding of the items of a sequence: Implicit VR Little Endian inside a UN value (PS3.5 §6.2.2). */
function childEncoding(element: Element, encoding: Encoding): Encoding {
  return encoding.explicitVR && element.vr === 'UN' ? { explicitVR: false, littleEndian: true } : encoding;
}

/** The VR of an element as json-model.ts resolves it (from the bytes, else the dictionary). */
function resolveVR(element: Element, hex: string, encoding: Encoding): string {
  if (encoding.explicitVR && element.vr !== undefined && element.vr !== 'UN') return element.vr;
  if (element.items !== undefined) return 'SQ';
  if (encoding.explicitVR) {
    if (isPrivateCreatorTag(hex)) return 'LO';
    if (isPrivateTag(hex)) return 'UN';
  }
  const known = dictionaryVR(hex);
  if (known === undefined) return 'UN';
  if (known.length === 2) return known;
  return known === 'US or SS' ? 'US' : 'OW';
}

function piece(tag: number, chunks: Uint8Array[], changed: boolean): Piece {
  return { tag, chunks, length: total(chunks), changed };
}

function hexTag(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(8, '0');
}

function label(hex: string): string {
  return `(${hex.slice(0, 4)},${hex.slice(4, 8)})`;
}

function refuse(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('DEIDENTIFICATION_FAILED', `cannot de-identify: ${reason}`, cause === undefined ? {} : { cause });
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(total(chunks));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
