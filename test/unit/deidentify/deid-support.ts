/**
 * What the de-identification tests share: running both de-identifiers and checking that they
 * agree, listing the elements of an instance with their raw bytes (by path, at every depth), and
 * collecting the original values that de-identification must not leave behind.
 */
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import type { DataSet, Element } from 'dicom-parser';
import { annexEAction } from '../../../gateway/deidentify/annex-e.js';
import { datasetView, parseInstance, readInstanceTree, readMetaHeader } from '../../../gateway/dicom/parse.js';
import { deidentifyInstance, type DeidentifiedInstance } from '../../../gateway/deidentify/deidentify.js';
import { deidentifyJson } from '../../../gateway/deidentify/deidentify-json.js';
import { vrForTag } from '../../../gateway/dicom/dictionary.js';
import type { DeidentifyOptions } from '../../../gateway/deidentify/deid-plan.js';
import type { DicomJson, ParsedInstance } from '../../../gateway/dicom/types.js';

/** The JSON without Group Length attributes (deidentifyJson leaves them out), at every depth. */
export function withoutGroupLengths(json: DicomJson): DicomJson {
  const out: DicomJson = {};
  for (const [tag, attribute] of Object.entries(json)) {
    if (tag.endsWith('0000')) continue;
    out[tag] = attribute.vr === 'SQ' && attribute.Value !== undefined ? { ...attribute, Value: attribute.Value.map((item) => withoutGroupLengths(item as DicomJson)) } : attribute;
  }
  return out;
}

/**
 * De-identifies `bytes`, checks that the result parses and that its JSON and report equal those of
 * deidentifyJson on the original's JSON; returns the result and both parses.
 */
export function deidentifyAndCompare(bytes: Uint8Array, options: DeidentifyOptions = {}): DeidentifiedInstance & { original: ParsedInstance; parsed: ParsedInstance } {
  const original = parseInstance(bytes);
  const result = deidentifyInstance(bytes, options);
  const parsed = parseInstance(result.bytes);
  const viaJson = deidentifyJson(original.metadata, options);
  assert.deepEqual(withoutGroupLengths(parsed.metadata), withoutGroupLengths(viaJson.json), 'the JSON of the de-identified bytes differs from the de-identified JSON');
  assert.deepEqual(result.report, viaJson.report, 'the two reports differ');
  return { ...result, original, parsed };
}

/** One element of an instance: its path (`00540016/0/00181079`), raw bytes (header and value) and tag. */
export interface RawElement {
  path: string;
  tag: string;
  raw: Uint8Array;
  /** The value bytes (undefined-length values: without their delimitation item). */
  value: Uint8Array;
  vr: string;
  depth: number;
  sequence: boolean;
}

/** Every element of the data set, at every depth, in the order of the bytes. */
export function rawElements(bytes: Uint8Array): RawElement[] {
  const parsed = parseInstance(bytes);
  const tree = readInstanceTree(bytes, parsed);
  const out: RawElement[] = [];
  walk(tree.dataSet, tree.view, tree.explicitVR, '', 0, tree.view.length, out);
  return out;
}

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function walk(dataSet: DataSet, view: Uint8Array, explicitVR: boolean, prefix: string, depth: number, end: number, out: RawElement[]): void {
  const elements = Object.values(dataSet.elements)
    .filter((e) => !e.tag.startsWith('xfffe'))
    .sort((a, b) => a.dataOffset - b.dataOffset);
  const header = (e: Element): number => (explicitVR && e.vr !== undefined && LONG.has(e.vr) ? 12 : 8);
  elements.forEach((element, i) => {
    const tag = element.tag.slice(1).toUpperCase();
    const start = element.dataOffset - header(element);
    const stop = i + 1 < elements.length ? elements[i + 1].dataOffset - header(elements[i + 1]) : end;
    const vr = explicitVR && element.vr !== undefined && element.vr !== 'UN' ? element.vr : (vrForTag(tag) ?? 'UN');
    const sequence = element.items !== undefined;
    const valueEnd = element.hadUndefinedLength ? stop - 8 : stop;
    out.push({ path: prefix + tag, tag, raw: view.subarray(start, stop), value: view.subarray(element.dataOffset, valueEnd), vr, depth, sequence });
    const items = element.items ?? [];
    items.forEach((item, j) => {
      if (item.dataSet === undefined) return;
      const itemStop = j + 1 < items.length ? items[j + 1].dataOffset - 8 : valueEnd;
      const childExplicit = explicitVR && element.vr !== 'UN';
      walk(item.dataSet, view, childExplicit, `${prefix}${tag}/${j}/`, depth + 1, item.hadUndefinedLength ? itemStop - 8 : itemStop, out);
    });
  });
}

/**
 * Whether the options make de-identification remove or replace an attribute, read straight from
 * Table E.1-1 (not through the DeidentificationPlan under test): every row whose effective action
 * is not K (a retaining option) or X/Z/U* (the sequence stays, its UID rows are rows of their own);
 * times stay under the Modified Dates option; the top-level De-identification Method attributes
 * are written anew; the mask removes.
 */
export function isProtected(tag: string, vr: string, depth: number, options: DeidentifyOptions): boolean {
  if ((options.mask ?? []).includes(tag)) return true;
  if ((options.profile ?? 'basic') === 'none') return false;
  if (depth === 0 && ['00120062', '00120063', '00120064'].includes(tag)) return true;
  const row = annexEAction(tag);
  if (row === undefined) return false;
  if (row.tag === 'ggggeeee') return true;
  if ((options.retainUids ?? true) && row.retainUids === 'K') return false;
  if (options.dates === 'keep' && row.retainLongFullDates === 'K') return false;
  if (options.dates === 'shift' && row.retainLongModifiedDates === 'C') return vr !== 'TM';
  return row.basic !== 'K' && row.basic !== 'X/Z/U*';
}

/** Text VRs whose values are searched for in de-identified bytes. */
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

/**
 * The raw bytes of every original text value (split on '\', padding trimmed, at least `minimum`
 * bytes long) of the attributes that the options remove or replace ({@link isProtected}), with the
 * attribute's path; values inside protected sequences included.
 */
export function identityValues(bytes: Uint8Array, options: DeidentifyOptions, minimum = 4): Array<{ path: string; value: Uint8Array }> {
  const protectedPaths: string[] = [];
  const out: Array<{ path: string; value: Uint8Array }> = [];
  for (const element of rawElements(bytes)) {
    const inside = protectedPaths.some((p) => element.path.startsWith(p));
    if (!inside && !isProtected(element.tag, element.vr, element.depth, options)) continue;
    if (element.sequence || element.vr === 'SQ') {
      protectedPaths.push(`${element.path}/`);
      continue;
    }
    if (!TEXT_VRS.has(element.vr)) continue;
    let start = 0;
    for (let i = 0; i <= element.value.length; i++) {
      if (i === element.value.length || element.value[i] === 0x5c) {
        const value = trim(element.value.subarray(start, i));
        if (value.length >= minimum) out.push({ path: element.path, value });
        start = i + 1;
      }
    }
  }
  return out;
}

function trim(bytes: Uint8Array): Uint8Array {
  let start = 0;
  let end = bytes.length;
  while (start < end && (bytes[start] === 0x20 || bytes[start] === 0)) start++;
  while (end > start && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0)) end--;
  return bytes.subarray(start, end);
}

/** True when `needle` occurs in `haystack`. */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) !== -1;
}

/** The bytes a parsed instance's offsets refer to (inflated for deflated instances). */
export function viewOf(bytes: Uint8Array): Uint8Array {
  return datasetView(bytes, parseInstance(bytes));
}

/** The instance with every top-level Group Length (gggg,0000) set to the true length of its group. */
export function withTrueGroupLengths(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  const tree = readInstanceTree(bytes, parseInstance(bytes));
  const elements = rawElements(bytes).filter((e) => e.depth === 0);
  for (const element of elements.filter((e) => e.tag.endsWith('0000'))) {
    const group = element.tag.slice(0, 4);
    const size = elements.filter((e) => e.tag.startsWith(group) && e.tag !== element.tag).reduce((n, e) => n + e.raw.length, 0);
    const at = element.value.byteOffset - bytes.byteOffset;
    if (tree.littleEndian) out.writeUInt32LE(size, at);
    else out.writeUInt32BE(size, at);
  }
  return new Uint8Array(out);
}

/** The true length of a top-level group, and the value of its Group Length element (undefined if none). */
export function groupLength(bytes: Uint8Array, group: string): { declared: number | undefined; actual: number } {
  const tree = readInstanceTree(bytes, parseInstance(bytes));
  const elements = rawElements(bytes).filter((e) => e.depth === 0 && e.tag.startsWith(group));
  const length = elements.find((e) => e.tag === `${group}0000`);
  const actual = elements.filter((e) => e !== length).reduce((n, e) => n + e.raw.length, 0);
  const declared = length === undefined ? undefined : new DataView(length.value.buffer, length.value.byteOffset, 4).getUint32(0, tree.littleEndian);
  return { declared, actual };
}

/**
 * The data set of an Explicit VR Little Endian instance, deflated, after the File Meta Information
 * of `withMetaOf` (whose Transfer Syntax UID says Deflated Explicit VR Little Endian).
 */
export function deflateDataSet(bytes: Uint8Array, withMetaOf: Uint8Array = bytes): Uint8Array {
  const meta = withMetaOf.subarray(0, readMetaHeader(withMetaOf).position);
  return new Uint8Array(Buffer.concat([meta, deflateRawSync(bytes.subarray(readMetaHeader(bytes).position))]));
}
