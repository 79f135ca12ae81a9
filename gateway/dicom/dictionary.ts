/**
 * The DICOM data dictionary (PS3.6 §6, Registry of DICOM Data Elements), as needed by the gateway:
 * keyword <-> tag, and the Value Representation of a tag for Implicit VR data sets (PS3.5 §7.1.3).
 * Backed by dictionary-data.json, the registry as packaged by dcmjs (see its "about"; regenerate
 * with `node scripts/generate-dictionary.mjs`), including the repeating groups (50xx curve data,
 * 60xx overlays, 7Fxx variable pixel data). Private tags (odd groups, PS3.5 §7.8) are not in it:
 * their creators are LO, their other elements unknown.
 */
import { readFileSync } from 'node:fs';

/** A dictionary entry: the VR as PS3.6 spells it ("" for none) and the keyword, `RETIRED_` prefixed if retired. */
type Entry = readonly [vr: string, keyword: string];

/** dictionary-data.json, as written by scripts/generate-dictionary.mjs. */
interface DictionaryData {
  /** "GGGGEEEE" -> entry, for the exact tags. */
  tags: Record<string, Entry | undefined>;
  /** ["GGxxEEEE", vr, keyword]: groups GG00-GGFF, element EEEE, where no exact tag applies; the first match wins. */
  repeating: [key: string, vr: string, keyword: string][];
}

interface Dictionary {
  tags: Record<string, Entry | undefined>;
  /** "GGxxEEEE" -> entry. */
  repeating: Map<string, Entry>;
}

let dictionary: Dictionary | undefined;
let keywords: Map<string, string> | undefined;

/** The table, read on first use (the JSON file sits next to this module, in dist/ too). */
function table(): Dictionary {
  if (dictionary === undefined) {
    const data = JSON.parse(readFileSync(new URL('./dictionary-data.json', import.meta.url), 'utf8')) as DictionaryData;
    const repeating = new Map<string, Entry>();
    for (const [key, vr, keyword] of data.repeating) if (!repeating.has(key)) repeating.set(key, [vr, keyword]);
    dictionary = { tags: data.tags, repeating };
  }
  return dictionary;
}

/**
 * Keyword (as the table has it) -> tag: exact tags in tag order, then the repeating groups (their
 * first group); when entries share a keyword the last wins, as in dcmjs's nameMap.
 */
function keywordTable(): Map<string, string> {
  if (keywords === undefined) {
    const { tags, repeating } = table();
    keywords = new Map();
    for (const tag of Object.keys(tags).sort()) keywords.set(tags[tag]![1], tag);
    for (const [key, [, keyword]] of repeating) keywords.set(keyword, key.replace('xx', '00'));
  }
  return keywords;
}

const TAG_PATTERN = /^[0-9A-F]{8}$/;
const RETIRED_PREFIX = 'RETIRED_';

/** Normalizes "(0010,0010)", "0010,0010", "x00100010" or "00100010" to "00100010"; undefined if not a tag. */
export function normalizeTag(tag: string): string | undefined {
  const hex = tag
    .replace(/^x/i, '')
    .replace(/[(),\s]/g, '')
    .toUpperCase();
  return TAG_PATTERN.test(hex) ? hex : undefined;
}

function entryForTag(tag: string): Entry | undefined {
  const hex = normalizeTag(tag);
  if (hex === undefined) return undefined;
  const group = parseInt(hex.slice(0, 4), 16);
  if (group % 2 === 1) return undefined; // private: never in the standard dictionary
  const { tags, repeating } = table();
  return tags[hex] ?? repeating.get(hex.slice(0, 2) + 'xx' + hex.slice(4));
}

/** True when the tag is in a private (odd) group, PS3.5 §7.8.1. */
export function isPrivateTag(tag: string): boolean {
  const hex = normalizeTag(tag);
  return hex !== undefined && parseInt(hex.slice(0, 4), 16) % 2 === 1;
}

/** True for a Private Creator Data Element (gggg,0010-00FF) of an odd group, PS3.5 §7.8.1. */
export function isPrivateCreatorTag(tag: string): boolean {
  const hex = normalizeTag(tag);
  if (hex === undefined || parseInt(hex.slice(0, 4), 16) % 2 === 0) return false;
  const element = parseInt(hex.slice(4), 16);
  return element >= 0x0010 && element <= 0x00ff;
}

/**
 * The tag (8 upper-case hex digits) of a keyword: `tagForKeyword('PatientName')` is `'00100010'`.
 * Retired keywords are accepted with or without the `RETIRED_` prefix. Keywords of repeating
 * groups (OverlayData) give the first group (60003000).
 */
export function tagForKeyword(keyword: string): string | undefined {
  const tags = keywordTable();
  return tags.get(keyword) ?? tags.get(RETIRED_PREFIX + keyword);
}

/** The keyword of a tag (`'00100010'` -> `'PatientName'`), without any `RETIRED_` prefix. */
export function keywordForTag(tag: string): string | undefined {
  const name = entryForTag(tag)?.[1];
  if (name === undefined) return undefined;
  return name.startsWith(RETIRED_PREFIX) ? name.slice(RETIRED_PREFIX.length) : name;
}

/**
 * The dictionary VR of a tag exactly as PS3.6 gives it, with choices spelled "OB or OW",
 * "US or SS", "US or OW"; group lengths are UL and private creators LO; undefined for private
 * and unknown tags.
 */
export function dictionaryVR(tag: string): string | undefined {
  const hex = normalizeTag(tag);
  if (hex === undefined) return undefined;
  if (hex.endsWith('0000')) return 'UL'; // Group Length, PS3.5 §7.2
  if (isPrivateCreatorTag(hex)) return 'LO';
  const vr = entryForTag(hex)?.[0];
  return vr === undefined || vr === '' ? undefined : vr;
}

/**
 * The VR of a tag for most purposes (QIDO matching, implicit VR parsing without context): the
 * dictionary VR with choices resolved to their most common member (OB or OW -> OW,
 * US or SS -> US, US or OW -> OW). Undefined for private and unknown tags.
 */
export function vrForTag(tag: string): string | undefined {
  const vr = dictionaryVR(tag);
  if (vr === undefined) return undefined;
  if (vr.length === 2) return vr;
  return vr === 'US or SS' ? 'US' : 'OW';
}
