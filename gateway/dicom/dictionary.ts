/**
 * The DICOM data dictionary (PS3.6 §6, Registry of DICOM Data Elements), as needed by the gateway:
 * keyword <-> tag, and the Value Representation of a tag for Implicit VR data sets (PS3.5 §7.1.3).
 * Backed by the dictionary of dcmjs (used for nothing else), including its repeating groups
 * (50xx curve data, 60xx overlays). Private tags (odd groups, PS3.5 §7.8) are not in it: their
 * creators are LO, their other elements unknown.
 */
import { createRequire } from 'node:module';

/** One dictionary entry as dcmjs keeps it. */
interface DcmjsEntry {
  tag: string;
  vr: string;
  vm: string;
  name: string;
}

interface DcmjsMetaDictionary {
  /** Keyed by "(GGGG,EEEE)" or "GGGGEEEE" (upper case); resolves repeating groups. */
  dictionary: Record<string, DcmjsEntry | undefined>;
  /** Keyed by keyword; retired attributes carry a `RETIRED_` prefix. */
  nameMap: Record<string, DcmjsEntry | undefined>;
}

const require = createRequire(import.meta.url);
const dcmjs = require('dcmjs') as { data: { DicomMetaDictionary: DcmjsMetaDictionary } };
const META = dcmjs.data.DicomMetaDictionary;

const TAG_PATTERN = /^[0-9A-F]{8}$/;
const RETIRED_PREFIX = 'RETIRED_';

/** The dictionary VRs that stand for a choice (PS3.6 "OB or OW", "US or SS", ...), as dcmjs spells them. */
const AMBIGUOUS_VR: Record<string, string> = {
  ox: 'OB or OW',
  xs: 'US or SS',
  lt: 'US or OW',
  up: 'UL',
};

/** Normalizes "(0010,0010)", "0010,0010", "x00100010" or "00100010" to "00100010"; undefined if not a tag. */
export function normalizeTag(tag: string): string | undefined {
  const hex = tag.replace(/^x/i, '').replace(/[(),\s]/g, '').toUpperCase();
  return TAG_PATTERN.test(hex) ? hex : undefined;
}

function entryForTag(tag: string): DcmjsEntry | undefined {
  const hex = normalizeTag(tag);
  if (hex === undefined) return undefined;
  const group = parseInt(hex.slice(0, 4), 16);
  if (group % 2 === 1) return undefined; // private: never in the standard dictionary
  return META.dictionary[hex];
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
 * Retired keywords are accepted with or without dcmjs's `RETIRED_` prefix. Keywords of repeating
 * groups (OverlayData) give the first group (60003000).
 */
export function tagForKeyword(keyword: string): string | undefined {
  const entry = META.nameMap[keyword] ?? META.nameMap[RETIRED_PREFIX + keyword];
  return entry === undefined ? undefined : normalizeTag(entry.tag);
}

/** The keyword of a tag (`'00100010'` -> `'PatientName'`), without any `RETIRED_` prefix. */
export function keywordForTag(tag: string): string | undefined {
  const name = entryForTag(tag)?.name;
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
  const vr = entryForTag(hex)?.vr;
  if (vr === undefined || vr === 'na') return undefined;
  return AMBIGUOUS_VR[vr] ?? vr;
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
