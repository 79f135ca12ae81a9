/**
 * What the corpus tests expect of Aegis, measured against pydicom: the one list of corpus files
 * Aegis must reject (and why), and the one set of rules by which the gateway's DICOM JSON is
 * compared with pydicom's `Dataset.to_json_dict()` (see `pydicom-reference.ts`).
 *
 * Shared by the parser test (test/unit/dicom/corpus.test.ts, which reads the parsed instance
 * directly) and the DICOMweb test (test/integration/corpus.test.ts, which reads the same through
 * HTTP), so that both hold Aegis to exactly the same expectations. Each test only supplies what
 * differs between them: what a BulkDataURI must look like and where the bytes behind it come from.
 */
import { basename } from 'node:path';
import type { PydicomAttribute } from './pydicom-reference.js';

/**
 * The corpus files Aegis rejects, by file name, and a pattern their rejection reason (the
 * INVALID_DICOM message of the parser) must match. pydicom itself refuses the first group; it
 * reads the others leniently, but a gateway that stores and serves instances must not accept them.
 */
export const EXPECTED_REJECTIONS: Readonly<Record<string, RegExp>> = {
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

/**
 * The corpus files Aegis stores with a warning (202, WarningReason B007), by file name, and a
 * pattern the warning must match: their pixel data cannot be read as frames, so it is kept as
 * opaque bytes.
 */
export const EXPECTED_WARNINGS: Readonly<Record<string, RegExp>> = {
  // Number of Frames "1A": the frames of the pixel data cannot be located (pydicom fails on them too).
  'badVR.dcm': /opaque bytes: Number of Frames \(0028,0008\) is not a positive integer: "1A"/,
};

/** The pattern the STOW warning of `file` (a path) must match when Aegis stores it with one. */
export function storedWarning(file: string): RegExp | undefined {
  return EXPECTED_WARNINGS[basename(file)];
}

/**
 * The pattern the rejection reason of `file` (a path) must match, or undefined when Aegis must
 * accept it: {@link EXPECTED_REJECTIONS}, plus every other DICOMDIR (Media Storage Directory
 * instances have no SOP Class UID of their own).
 */
export function expectedRejection(file: string): RegExp | undefined {
  const name = basename(file);
  return EXPECTED_REJECTIONS[name] ?? (/^DICOMDIR/.test(name) ? /no SOP Class UID/ : undefined);
}

/** VRs whose values are bytes (InlineBinary or BulkDataURI), not a JSON Value. */
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
/** Pixel Data, Double and Float Pixel Data: always bulk data, whatever their size. */
const PIXEL_TAGS = new Set(['7FE00010', '7FE00008', '7FE00009']);
/** Binary values above this many bytes must be bulk data; at or below it, inline. */
const INLINE_LIMIT = 1024;

/** One attribute of DICOM JSON as the gateway writes it (PS3.18 F.2). */
export interface JsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

/** How one corpus test resolves the BulkDataURIs of the data set it compares. */
export interface BulkDataRules {
  /** Whether the instance's Pixel Data is encapsulated (not native). */
  encapsulated: boolean;
  /** The BulkDataURI the value at `where` (a bulk data path such as `00540016/0/00181079`) must have. */
  bulkDataURI(where: string): string;
  /**
   * Called for each value written as a BulkDataURI: the test fetches the bytes behind `uri` and
   * checks them with {@link compareBulkData}. `theirs` is pydicom's value, or undefined when
   * pydicom has none to compare with (see {@link compareDataSet}).
   */
  onBulkData(where: string, uri: string, theirs: Buffer | undefined, out: string[]): void;
}

/**
 * Compares the gateway's metadata with pydicom's, attribute by attribute, and pushes one line per
 * difference to `out` (nothing when they agree). The normalisations, each a documented difference
 * between pydicom 2.3's writer and PS3.18 F.2 as Aegis implements it:
 * - empty sequences: pydicom writes `"Value": []`; F.2.5 says an empty attribute has no Value.
 * - empty values inside multi-valued attributes: pydicom writes "" (strings); F.2.5 says null.
 * - PN: pydicom keeps empty component groups ("Ideographic": ""); F.2.2 leaves them out.
 * - trailing spaces: pydicom strips padding at the end of the whole value only; Aegis strips
 *   the trailing spaces of each value of a multi-valued string ("DERIVED \\PRIMARY").
 * - private attributes: pydicom gives known private tags a VR from its private dictionary
 *   (GEMS_ACQU_01 and so on); Aegis has no private dictionary and keeps them UN (their bytes are
 *   checked only when pydicom has them as bytes too).
 * - bulk data: pydicom (no handler) inlines everything; Aegis writes a BulkDataURI above 1024
 *   bytes and always for pixel data; the bytes behind it must equal pydicom's (`rules.onBulkData`
 *   with {@link compareBulkData}). pydicom's value of encapsulated pixel data is the whole item
 *   sequence, like ours; pydicom leaves it empty for some files, then only the frames are compared.
 */
export function compareDataSet(ours: Record<string, JsonAttribute>, theirs: Record<string, PydicomAttribute>, rules: BulkDataRules, out: string[], path = ''): void {
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
      // A value pydicom cannot convert (IS "1A") must reach the client as the text it is, not as a guess.
      const asText = (a.Value ?? []).length > 0 && (a.Value ?? []).every((v) => typeof v === 'string');
      if (!asText) out.push(`${where}: pydicom could not convert it (${b.error}), and it is not sent as its text: ${JSON.stringify(a.Value)}`);
      continue;
    }
    if (a.vr === 'UN' && isPrivate(tag) && b.vr !== 'UN') continue;
    if (a.vr !== b.vr) {
      out.push(`${where}: VR ${a.vr}, pydicom ${b.vr}`);
      continue;
    }
    if (a.vr === 'SQ') {
      const ourItems = (a.Value ?? []) as Array<Record<string, JsonAttribute>>;
      const theirItems = (b.Value ?? []) as Array<Record<string, PydicomAttribute>>;
      if (ourItems.length !== theirItems.length) {
        out.push(`${where}: ${ourItems.length} items, pydicom ${theirItems.length}`);
        continue;
      }
      ourItems.forEach((item, i) => compareDataSet(item, theirItems[i], rules, out, `${where}/${i}/`));
      continue;
    }
    if (BINARY_VRS.has(a.vr)) {
      compareBinary(a, b, where, rules, out);
      continue;
    }
    const expected = normaliseValue(b.Value, a.vr);
    if (JSON.stringify(a.Value) !== JSON.stringify(expected)) {
      out.push(`${where} (${a.vr}): ${JSON.stringify(a.Value)?.slice(0, 200)} != pydicom ${JSON.stringify(expected)?.slice(0, 200)}`);
    }
  }
}

/** A binary value: a BulkDataURI (handed to `rules.onBulkData`) or InlineBinary equal to pydicom's. */
function compareBinary(a: JsonAttribute, b: PydicomAttribute, where: string, rules: BulkDataRules, out: string[]): void {
  const theirBytes = b.InlineBinary === undefined ? Buffer.alloc(0) : Buffer.from(b.InlineBinary, 'base64');
  if (a.BulkDataURI !== undefined) {
    const uri = rules.bulkDataURI(where);
    if (a.BulkDataURI !== uri) out.push(`${where}: BulkDataURI ${a.BulkDataURI} is not ${uri}`);
    const encapsulated = where === '7FE00010' && rules.encapsulated;
    rules.onBulkData(where, a.BulkDataURI, encapsulated && theirBytes.length === 0 ? undefined : theirBytes, out);
    return;
  }
  const inline = a.InlineBinary === undefined ? Buffer.alloc(0) : Buffer.from(a.InlineBinary, 'base64');
  if (inline.length > INLINE_LIMIT || PIXEL_TAGS.has(where.slice(-8))) out.push(`${where}: ${inline.length} bytes inline, not as bulk data`);
  if (!inline.equals(theirBytes)) out.push(`${where}: InlineBinary differs (${inline.length} vs pydicom ${theirBytes.length} bytes)`);
}

/**
 * Checks the bytes behind one BulkDataURI (`ours`) against pydicom's value of the attribute
 * (`theirs`, as passed to `rules.onBulkData`; undefined: nothing to compare with): values other
 * than pixel data must be too large to be inline, and the bytes must be pydicom's.
 */
export function compareBulkData(where: string, ours: Uint8Array, theirs: Buffer | undefined, out: string[]): void {
  if (!PIXEL_TAGS.has(where.slice(-8)) && ours.length <= INLINE_LIMIT) out.push(`${where}: bulk data of only ${ours.length} bytes`);
  if (theirs !== undefined && !Buffer.from(ours.buffer, ours.byteOffset, ours.length).equals(theirs)) {
    out.push(`${where}: bulk data bytes differ (${ours.length} vs pydicom ${theirs.length})`);
  }
}

/** Whether a tag (8 hex digits) is private: its group number is odd. */
function isPrivate(tag: string): boolean {
  return parseInt(tag.slice(0, 4), 16) % 2 === 1;
}

/**
 * pydicom's `Value` of an attribute, normalised to what PS3.18 F.2 (as Aegis writes it) says:
 * trailing spaces of each string value stripped, empty values null, empty PN component groups
 * left out, and no Value at all when every value is empty.
 */
export function normaliseValue(value: unknown[] | undefined, vr: string): unknown[] | undefined {
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
