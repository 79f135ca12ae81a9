/**
 * The Attribute Confidentiality Profiles of DICOM PS3.15 Annex E, E.1: Table E.1-1 (see
 * `annex-e-table.ts`) as rows to look up by tag, with the columns Aegis implements (Basic Profile,
 * Retain UIDs Option, Retain Longitudinal Temporal Information Options), and the de-identification
 * method codes of PS3.16 CID 7050. One module for every user of the table: the de-identified
 * research view (`deidentify/views.ts`) and the identity split of stored instances
 * (`protection/split/identity-ranges.ts`).
 */
import { normalizeTag } from '../dicom/dictionary.js';
import { ANNEX_E_TABLE } from './annex-e-table.js';

/**
 * The action codes of PS3.15 E.1.1 (Table E.1-1a): D dummy, Z zero length, X remove, K keep,
 * C clean, U replace UID, and the compound codes that depend on the attribute's type in the IOD.
 */
export type AnnexEActionCode = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'Z/D' | 'X/Z' | 'X/D' | 'X/Z/D' | 'X/Z/U*';

/** One row of Table E.1-1. */
export interface AnnexERow {
  /** 8 upper-case hex digits, or a pattern: `50xxxxxx`, `60xx3000`, `60xx4000`, `ggggeeee` (private). */
  tag: string;
  keyword: string;
  /** The Basic Application Level Confidentiality Profile column. */
  basic: AnnexEActionCode;
  /** The Retain UIDs Option column (113110), when it says anything. */
  retainUids?: 'K';
  /** The Retain Longitudinal Temporal Information with Full Dates Option column (113106). */
  retainLongFullDates?: 'K';
  /** The Retain Longitudinal Temporal Information with Modified Dates Option column (113107). */
  retainLongModifiedDates?: 'C';
}

/** A code of PS3.16 CID 7050 "De-identification Method" (coding scheme DCM). */
export interface DeidentificationMethod {
  code: string;
  meaning: string;
}

/** The codes of CID 7050 that Aegis records (Basic Profile and the options it implements). */
export const DEIDENTIFICATION_METHODS = {
  basic: { code: '113100', meaning: 'Basic Application Confidentiality Profile' },
  retainLongFullDates: { code: '113106', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' },
  retainLongModifiedDates: { code: '113107', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' },
  retainUids: { code: '113110', meaning: 'Retain UIDs Option' },
} as const satisfies Record<string, DeidentificationMethod>;

const CODES = new Set<string>(['D', 'Z', 'X', 'K', 'C', 'U', 'Z/D', 'X/Z', 'X/D', 'X/Z/D', 'X/Z/U*']);

function parseTable(text: string): AnnexERow[] {
  const rows: AnnexERow[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [tag, basic, flag, keyword] = line.trim().split(/\s+/);
    if (keyword === undefined || !CODES.has(basic) || !/^[RT-]$/.test(flag)) {
      throw new Error(`annex-e-table.ts: malformed row ${JSON.stringify(line)}`);
    }
    const row: AnnexERow = { tag, keyword, basic: basic as AnnexEActionCode };
    if (flag === 'R') row.retainUids = 'K';
    if (flag === 'T') {
      row.retainLongFullDates = 'K';
      row.retainLongModifiedDates = 'C';
    }
    rows.push(row);
  }
  return rows;
}

/** Every row of Table E.1-1, in the order of the standard. */
export const annexERows: readonly AnnexERow[] = Object.freeze(parseTable(ANNEX_E_TABLE).map((row) => Object.freeze(row)));

const BY_TAG: ReadonlyMap<string, AnnexERow> = new Map(annexERows.filter((r) => /^[0-9A-F]{8}$/.test(r.tag)).map((r) => [r.tag, r]));
const PATTERN = (tag: string): AnnexERow => {
  const row = annexERows.find((r) => r.tag === tag);
  if (row === undefined) throw new Error(`annex-e-table.ts: no row ${tag}`);
  return row;
};
const CURVE_DATA = PATTERN('50xxxxxx');
const OVERLAY_DATA = PATTERN('60xx3000');
const OVERLAY_COMMENTS = PATTERN('60xx4000');
const PRIVATE = PATTERN('ggggeeee');

/**
 * The row of Table E.1-1 that applies to a tag ("00100010", "(0010,0010)", "x00100010"), with
 * the repeating groups (curves 50xx, overlay data and comments 60xx) and private attributes (odd
 * groups) resolved; undefined for attributes the table does not list (they are kept).
 */
export function annexEAction(tag: string): AnnexERow | undefined {
  const hex = normalizeTag(tag);
  if (hex === undefined) return undefined;
  const exact = BY_TAG.get(hex);
  if (exact !== undefined) return exact;
  const group = parseInt(hex.slice(0, 4), 16);
  if (group % 2 === 1) return PRIVATE;
  if ((group & 0xff00) === 0x5000) return CURVE_DATA;
  if ((group & 0xff00) === 0x6000) {
    const element = hex.slice(4);
    if (element === '3000') return OVERLAY_DATA;
    if (element === '4000') return OVERLAY_COMMENTS;
  }
  return undefined;
}

/**
 * The identity attributes: the exact tags of Table E.1-1 (8 upper-case hex digits). Together with
 * the patterns of {@link isIdentityAttribute} they are what the Basic Profile removes or replaces
 * unless an option retains them.
 */
export const identityAttributes: ReadonlySet<string> = new Set(BY_TAG.keys());

/** True when Table E.1-1 lists the tag, directly or through a pattern (curves, overlays, private). */
export function isIdentityAttribute(tag: string): boolean {
  return annexEAction(tag) !== undefined;
}
