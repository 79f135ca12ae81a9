/**
 * deidentifyInstance over the pydicom corpus, for every file parseInstance accepts, with the
 * defaults (Basic Profile, Retain UIDs) and with replaced UIDs and shifted dates:
 * (a) the de-identified bytes parse with Aegis's parser and with pydicom (one Python process for
 *     all files reads every value at every depth), and both see the same elements;
 * (b) no original value of an attribute the profile removes or replaces (4 bytes or more) is left
 *     in the bytes, but for the few listed exceptions;
 * (c) Pixel Data and every attribute that is kept are byte-identical;
 * (d) pydicom reads Patient Identity Removed as YES, and the Media Storage SOP Instance UID equals
 *     the SOP Instance UID;
 * and the JSON of the de-identified bytes equals deidentifyJson of the original JSON.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import type { DeidentifyOptions } from '../../../gateway/deidentify/deid-plan.js';
import type { DicomJson } from '../../../gateway/dicom/types.js';
import { corpusFiles, PYDICOM_DATA } from '../../support/corpus.js';
import { pydicomWalk } from '../../support/pydicom-walk.js';
import { deidentifyAndCompare, identityValues, isProtected, rawElements, viewOf } from './deid-support.js';

/** The elements of the File Meta Information (PS3.10 §7.1): tag and value range. */
function metaElements(bytes: Uint8Array): Array<{ tag: string; start: number; end: number }> {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Array<{ tag: string; start: number; end: number }> = [];
  let at = 132;
  while (at + 8 <= data.length && data.readUInt16LE(at) === 0x0002) {
    const vr = data.toString('latin1', at + 4, at + 6);
    const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(vr);
    const length = long ? data.readUInt32LE(at + 8) : data.readUInt16LE(at + 6);
    const start = at + (long ? 12 : 8);
    out.push({
      tag: `0002${data
        .readUInt16LE(at + 2)
        .toString(16)
        .toUpperCase()
        .padStart(4, '0')}`,
      start,
      end: start + length,
    });
    at = start + length;
  }
  return out;
}

/** The Media Storage SOP Instance UID (0002,0003) of the File Meta Information. */
function mediaStorageSOPInstanceUID(bytes: Uint8Array): string {
  const element = metaElements(bytes).find((e) => e.tag === '00020003');
  return element === undefined
    ? ''
    : Buffer.from(bytes.subarray(element.start, element.end))
        .toString('latin1')
        .replace(/[\0 ]+$/, '');
}

const OPTION_SETS: Array<[string, DeidentifyOptions]> = [
  ['basic', {}],
  ['new UIDs, shifted dates', { retainUids: false, dates: 'shift', key: 'corpus test key' }],
];

/**
 * The two ways an original value may legitimately be found in de-identified bytes:
 * 1. inside the value of an attribute that is kept (not in the table, or retained by an option;
 *    the File Meta Information included): a date inside a retained UID, a number that is also a
 *    kept DS value, the pixel data;
 * 2. it is one of the dummy values the profile writes (deid-plan.ts), as '+0000' for a Timezone
 *    Offset From UTC of '+0000';
 * 3. inside the De-identification Method attributes written by the profile (an SR code meaning
 *    'Date' is part of 'Retain Longitudinal Temporal Information Modified Dates Option').
 */
const DUMMY_VALUES = new Set(['ANONYMOUS', '19000101', '000000', '000Y', '+0000']);

/** The byte ranges (in the data set view) of the values of the attributes kept at any depth. */
function keptRanges(output: Uint8Array, options: DeidentifyOptions): Array<[number, number]> {
  const view = viewOf(output);
  const meta = metaElements(output)
    .filter((e) => !isProtected(e.tag, 'UI', 0, options))
    .map((e): [number, number] => [e.start, e.end]);
  const written = (path: string): boolean => path === '00120063' || path.startsWith('00120064/');
  const dataSet = rawElements(output)
    .filter((e) => !e.sequence && e.vr !== 'SQ' && (written(e.path) || !isProtected(e.tag, e.vr, e.depth, options)))
    .map((e): [number, number] => [e.value.byteOffset - view.byteOffset, e.value.byteOffset - view.byteOffset + e.value.length]);
  return [...meta, ...dataSet];
}

/** Where `needle` occurs outside every kept value. */
function leaks(view: Uint8Array, needle: Uint8Array, kept: Array<[number, number]>): number[] {
  const haystack = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    if (!kept.some(([start, end]) => at >= start && at + needle.length <= end)) found.push(at);
  }
  return found;
}

interface Case {
  file: string;
  name: string;
  options: DeidentifyOptions;
  original: Uint8Array;
  output?: Uint8Array;
  outputFile?: string;
  error?: unknown;
  json?: DicomJson;
}

const directory = mkdtempSync(join(tmpdir(), 'aegis-deid-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const cases: Case[] = [];
for (const file of corpusFiles()) {
  const original = readFileSync(file);
  try {
    parseInstance(original);
  } catch {
    continue; // rejected files: the parser's corpus test covers them
  }
  OPTION_SETS.forEach(([name, options], i) => {
    const entry: Case = { file, name, options, original };
    try {
      const result = deidentifyAndCompare(original, options);
      entry.output = result.bytes;
      entry.json = result.parsed.metadata;
      entry.outputFile = join(directory, `${i}-${cases.length}-${basename(file)}.dcm`);
      writeFileSync(entry.outputFile, result.bytes);
    } catch (error) {
      entry.error = error;
    }
    cases.push(entry);
  });
}
const pydicom = pydicomWalk(cases.flatMap((c) => (c.outputFile === undefined ? [] : [c.outputFile])));

/** Every element path of our parse of a data set (as pydicom-walk.py writes them). */
function paths(json: DicomJson, prefix = ''): string[] {
  return Object.entries(json).flatMap(([tag, attribute]) => [prefix + tag, ...(attribute.vr === 'SQ' ? (attribute.Value ?? []).flatMap((item, i) => paths(item as DicomJson, `${prefix}${tag}/${i}/`)) : [])]);
}

describe(`deidentifyInstance over the pydicom corpus (${cases.length / OPTION_SETS.length} files)`, () => {
  for (const entry of cases) {
    it(`${relative(PYDICOM_DATA, entry.file)} (${entry.name})`, () => {
      assert.equal(entry.error, undefined, `de-identification failed: ${String((entry.error as Error | undefined)?.stack ?? entry.error)}`);
      const output = entry.output!;
      // (a) and (d)
      const theirs = pydicom[entry.outputFile!];
      assert.ok(theirs !== undefined && !('error' in theirs), `pydicom cannot read the output: ${JSON.stringify(theirs)}`);
      assert.equal(theirs.identityRemoved, 'YES');
      const originalMatched = parseInstance(entry.original).sopInstanceUID === mediaStorageSOPInstanceUID(entry.original);
      if (entry.options.retainUids === false || originalMatched) {
        assert.equal(theirs.mediaStorageSOPInstanceUID, theirs.sopInstanceUID, 'Media Storage SOP Instance UID');
      }
      assert.deepEqual(theirs.paths.sort(), paths(entry.json!).sort(), 'pydicom and Aegis see different elements');
      // (b)
      const view = viewOf(output);
      const kept = keptRanges(output, entry.options);
      const left = identityValues(entry.original, entry.options)
        .filter(({ value }) => !DUMMY_VALUES.has(Buffer.from(value).toString('latin1')) && leaks(view, value, kept).length > 0)
        .map(({ path, value }) => `${path}: ${JSON.stringify(Buffer.from(value).toString('latin1'))}`);
      assert.deepEqual(left, [], 'original identity values remain');
      // (c)
      const after = new Map(rawElements(output).map((e) => [e.path, e.raw]));
      const changed: string[] = [];
      const gone: string[] = [];
      for (const element of rawElements(entry.original)) {
        if (gone.some((p) => element.path.startsWith(p))) continue;
        if (isProtected(element.tag, element.vr, element.depth, entry.options)) {
          gone.push(`${element.path}/`);
          continue;
        }
        if (element.sequence || element.vr === 'SQ' || element.tag.endsWith('0000')) continue;
        const raw = after.get(element.path);
        if (raw === undefined || Buffer.compare(raw, element.raw) !== 0) changed.push(element.path);
      }
      assert.deepEqual(changed, [], 'kept attributes changed');
    });
  }
});
