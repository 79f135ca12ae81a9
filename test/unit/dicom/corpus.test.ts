/**
 * The parser against the pydicom corpus: every file either parses or is rejected with
 * INVALID_DICOM (and the rejected ones are exactly the expected ones, for the expected reason);
 * every parsed file's metadata matches pydicom's `Dataset.to_json_dict()`, its bulk data
 * locations hold pydicom's bytes, and every frame from `frameRanges` hashes like pydicom's frame.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { isGatewayError } from '../../../gateway/errors.js';
import {
  datasetView,
  frameRanges,
  parseInstance,
  type DicomJson,
  type ParsedInstance,
} from '../../../gateway/dicom/index.js';
import { corpusFiles, PYDICOM_DATA } from '../../support/corpus.js';
import { pydicomReference, type PydicomAttribute } from './pydicom-reference.js';

/**
 * The files Aegis rejects, and why. pydicom itself refuses the first group; it reads the others
 * leniently, but a gateway that stores and serves instances must not accept them.
 */
const EXPECTED_REJECTIONS: Record<string, RegExp> = {
  // No preamble / 'DICM' prefix: not Part 10 files (pydicom: InvalidDicomError without force=True).
  'no_meta.dcm': /missing 'DICM' prefix/,
  'ExplVR_BigEndNoMeta.dcm': /missing 'DICM' prefix/,
  'ExplVR_LitEndNoMeta.dcm': /missing 'DICM' prefix/,
  'rtstruct.dcm': /missing 'DICM' prefix/,
  // A meta header without a transfer syntax: the data set cannot be decoded with certainty.
  'meta_missing_tsyntax.dcm': /no Transfer Syntax UID/,
  // Truncated files: pydicom reads them lazily and silently returns short values.
  'MR_truncated.dcm': /^truncated: element \(7FE0,0010\) declares 8192 bytes but only \d+ remain$/,
  'rtplan_truncated.dcm': /^truncated/,
  // Number of Frames "1A": the frames of the pixel data cannot be located (pydicom fails on it too).
  'badVR.dcm': /Number of Frames \(0028,0008\) is not a positive integer: "1A"/,
  // The last directory record runs past the end of the file (pydicom reads what is there).
  'DICOMDIR-nooffset': /^truncated/,
  // Data sets without SOP Class / SOP Instance UIDs (test fixtures for other features).
  'nested_priv_SQ.dcm': /no SOP Class UID/,
  'chrSQEncoding.dcm': /no SOP Class UID/,
  'chrSQEncoding1.dcm': /no SOP Class UID/,
  'UN_sequence.dcm': /no SOP Class UID/,
  'priv_SQ.dcm': /no SOP Class UID/,
  'no_meta_group_length.dcm': /no SOP Class UID/,
  'empty_charset_LEI.dcm': /no SOP Class UID/,
  'DICOMDIR-empty.dcm': /no SOP Class UID/,
};

/** DICOMDIR files are Media Storage Directory instances without a SOP Class UID of their own. */
function expectedRejection(file: string): RegExp | undefined {
  const name = basename(file);
  return EXPECTED_REJECTIONS[name] ?? (/^DICOMDIR/.test(name) ? /no SOP Class UID/ : undefined);
}

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const PIXEL_TAGS = new Set(['7FE00010', '7FE00008', '7FE00009']);

const files = corpusFiles();
const reference = pydicomReference(files);

describe(`DICOM corpus (${files.length} files, pydicom ${reference.version})`, () => {
  for (const file of files) {
    const name = relative(PYDICOM_DATA, file);
    it(name, () => {
      const bytes = readFileSync(file);
      const expected = expectedRejection(file);
      let parsed: ParsedInstance;
      try {
        parsed = parseInstance(bytes);
      } catch (error) {
        assert.ok(isGatewayError(error, 'INVALID_DICOM'), `threw something other than INVALID_DICOM: ${String(error)}`);
        assert.ok(expected !== undefined, `unexpectedly rejected: ${error.message}`);
        assert.match(error.message, expected);
        return;
      }
      assert.equal(expected, undefined, `expected a rejection matching ${String(expected)}`);
      const ref = reference.files[file];
      assert.ok(ref !== undefined && !('error' in ref), `pydicom cannot read a file Aegis accepts: ${JSON.stringify(ref)}`);
      assert.equal(parsed.transferSyntaxUID, ref.transferSyntax);
      const view = datasetView(bytes, parsed);
      const differences: string[] = [];
      compareDataSet(parsed.metadata, ref.json, '', parsed, view, differences);
      assert.deepEqual(differences, [], `metadata differs from pydicom:\n${differences.join('\n')}`);
      compareFrames(parsed, view, ref.frames ?? null, ref.framesError);
    });
  }

  it('rejects every file pydicom cannot read', () => {
    for (const file of files) {
      const ref = reference.files[file];
      if (ref !== undefined && 'error' in ref) {
        assert.ok(expectedRejection(file) !== undefined, `${file}: pydicom: ${ref.error}`);
      }
    }
  });
});

/**
 * Compares our metadata with pydicom's, attribute by attribute. The normalisations, each a
 * documented difference between pydicom 2.3's writer and PS3.18 F.2 as Aegis implements it:
 * - empty sequences: pydicom writes `"Value": []`; F.2.5 says an empty attribute has no Value.
 * - empty values inside multi-valued attributes: pydicom writes "" (strings); F.2.5 says null.
 * - PN: pydicom keeps empty component groups ("Ideographic": ""); F.2.2 leaves them out.
 * - trailing spaces: pydicom strips padding at the end of the whole value only; Aegis strips
 *   the trailing spaces of each value of a multi-valued string ("DERIVED \\PRIMARY").
 * - private attributes: pydicom gives known private tags a VR from its private dictionary
 *   (GEMS_ACQU_01 and so on); Aegis has no private dictionary and keeps them UN (their bytes are
 *   checked only when pydicom has them as bytes too).
 * - bulk data: pydicom (no handler) inlines everything; Aegis writes a BulkDataURI above 1024
 *   bytes and always for pixel data; the bytes at the BulkDataLocation must equal pydicom's.
 */
function compareDataSet(
  ours: DicomJson,
  theirs: Record<string, PydicomAttribute>,
  path: string,
  parsed: ParsedInstance,
  view: Uint8Array,
  out: string[],
): void {
  const ourTags = Object.keys(ours).sort();
  const theirTags = Object.keys(theirs).sort();
  for (const tag of theirTags) if (!(tag in ours)) out.push(`${path}${tag}: missing (pydicom ${JSON.stringify(theirs[tag]).slice(0, 120)})`);
  for (const tag of ourTags) if (!(tag in theirs)) out.push(`${path}${tag}: extra ${JSON.stringify(ours[tag]).slice(0, 120)}`);
  for (const tag of ourTags) {
    const a = ours[tag];
    const b = theirs[tag];
    if (b === undefined) continue;
    const where = `${path}${tag}`;
    if (b.error !== undefined) {
      out.push(`${where}: pydicom could not convert it (${b.error})`);
      continue;
    }
    if (a.vr === 'UN' && isPrivate(tag) && b.vr !== 'UN') continue;
    if (a.vr !== b.vr) {
      out.push(`${where}: VR ${a.vr}, pydicom ${b.vr}`);
      continue;
    }
    if (a.vr === 'SQ') {
      const ourItems = (a.Value ?? []) as DicomJson[];
      const theirItems = (b.Value ?? []) as Array<Record<string, PydicomAttribute>>;
      if (ourItems.length !== theirItems.length) {
        out.push(`${where}: ${ourItems.length} items, pydicom ${theirItems.length}`);
        continue;
      }
      ourItems.forEach((item, i) => compareDataSet(item, theirItems[i], `${where}/${i}/`, parsed, view, out));
      continue;
    }
    if (BINARY_VRS.has(a.vr)) {
      compareBinary(a, b, where, parsed, view, out);
      continue;
    }
    const expected = normaliseValue(b.Value, a.vr);
    if (JSON.stringify(a.Value) !== JSON.stringify(expected)) {
      out.push(`${where} (${a.vr}): ${JSON.stringify(a.Value)?.slice(0, 200)} != pydicom ${JSON.stringify(expected)?.slice(0, 200)}`);
    }
  }
}

function isPrivate(tag: string): boolean {
  return parseInt(tag.slice(0, 4), 16) % 2 === 1;
}

function normaliseValue(value: unknown[] | undefined, vr: string): unknown[] | undefined {
  if (value === undefined) return undefined;
  const normalised = value.map((v) => {
    if (typeof v === 'string') v = v.replace(/ +$/, '');
    if (v === '') return null;
    if (vr === 'PN' && v !== null && typeof v === 'object') {
      const groups = Object.entries(v as Record<string, string>).filter(([, text]) => text !== '');
      return groups.length === 0 ? null : Object.fromEntries(groups);
    }
    return v;
  });
  return normalised.every((v) => v === null) ? undefined : normalised;
}

function compareBinary(
  a: DicomJson[string],
  b: PydicomAttribute,
  where: string,
  parsed: ParsedInstance,
  view: Uint8Array,
  out: string[],
): void {
  const theirBytes = b.InlineBinary === undefined ? Buffer.alloc(0) : Buffer.from(b.InlineBinary, 'base64');
  if (a.BulkDataURI !== undefined) {
    const path = where;
    if (a.BulkDataURI !== `bulkdata/${path}`) out.push(`${where}: BulkDataURI ${a.BulkDataURI}`);
    const location = parsed.bulkData.find((l) => l.path === path);
    if (location === undefined) {
      out.push(`${where}: no BulkDataLocation`);
      return;
    }
    if (!PIXEL_TAGS.has(path.slice(-8)) && location.length <= 1024) out.push(`${where}: bulk data of only ${location.length} bytes`);
    const ours = view.subarray(location.offset, location.offset + location.length);
    const encapsulated = path === '7FE00010' && parsed.pixelData?.encapsulated === true;
    // pydicom's value of encapsulated pixel data is the whole item sequence, as ours.
    if (!encapsulated || theirBytes.length > 0) {
      if (!Buffer.from(ours).equals(theirBytes)) out.push(`${where}: bulk data bytes differ (${ours.length} vs pydicom ${theirBytes.length})`);
    }
    return;
  }
  const ours = a.InlineBinary === undefined ? Buffer.alloc(0) : Buffer.from(a.InlineBinary, 'base64');
  if (ours.length > 1024 || PIXEL_TAGS.has(where.slice(-8))) out.push(`${where}: ${ours.length} bytes inline, not as bulk data`);
  if (!ours.equals(theirBytes)) out.push(`${where}: InlineBinary differs (${ours.length} vs pydicom ${theirBytes.length} bytes)`);
}

function compareFrames(parsed: ParsedInstance, view: Uint8Array, frames: string[] | null, framesError: string | undefined): void {
  if (parsed.pixelData === undefined) {
    assert.equal(frames, null, 'pydicom found pixel data frames, Aegis none');
    return;
  }
  assert.equal(framesError, undefined, `pydicom could not split the frames: ${framesError}`);
  assert.ok(frames !== null, 'Aegis found pixel data, pydicom none');
  const layout = parsed.pixelData;
  const count = layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
  const bitPacked = !layout.encapsulated && layout.bitsPerFrame !== undefined;
  // Bit-packed frames are compared as a whole (the reference script does the same).
  assert.equal(bitPacked ? 1 : count, frames.length, 'number of frames');
  for (let n = 1; n <= frames.length; n++) {
    const hash = createHash('sha256');
    for (const [offset, length] of frameRanges(layout, n)) hash.update(view.subarray(offset, offset + length));
    assert.equal(hash.digest('hex'), frames[n - 1], `frame ${n} differs from pydicom's`);
  }
}
