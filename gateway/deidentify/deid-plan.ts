/**
 * What de-identification does to each attribute (DICOM PS3.15 Annex E, E.1.1 and E.3): the
 * options, and the one decision per attribute that both the byte-level de-identifier
 * (`deidentify.ts`) and the DICOM JSON one (`deidentify-json.ts`) apply, so that the two always
 * agree. Also the replacement values: dummy values per VR, keyed UID replacement (PS3.15 E.3.9,
 * UIDs under the 2.25 root of PS3.5 B.2) and keyed per-patient date shifts (E.3.6).
 *
 * Compound action codes need the attribute's type in the IOD, which a gateway serving any SOP
 * class does not know. Aegis takes the Type 2 reading: X/Z, X/Z/D and Z/D give an empty value
 * (always conformant unless the attribute is Type 1), X/D removes, and X/Z/U* keeps the sequence
 * and treats its items (their UIDs are U rows of their own). C is applied as the Modified Dates
 * option means it: DA and DT values are shifted, TM values kept; other VRs get a dummy value.
 */
import { createHmac } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { annexEAction, DEIDENTIFICATION_METHODS, type AnnexEActionCode, type DeidentificationMethod } from './annex-e.js';
import { dictionaryVR, isPrivateTag, normalizeTag, tagForKeyword } from '../dicom/dictionary.js';

/** How dates and times of Table E.1-1 are treated. */
export type DatesOption =
  /** The Basic Profile column: removed, emptied or dummy. */
  | 'remove'
  /** Retain Longitudinal Temporal Information with Modified Dates Option (113107): DA/DT shifted. */
  | 'shift'
  /** Retain Longitudinal Temporal Information with Full Dates Option (113106): kept. */
  | 'keep';

/** Options of `deidentifyInstance` and `deidentifyJson`. */
export interface DeidentifyOptions {
  /** 'basic' applies Table E.1-1 (default); 'none' applies only `mask`. */
  profile?: 'basic' | 'none';
  /** More attributes to remove at every depth: tags ("00100010", "(0010,0010)") or keywords. */
  mask?: readonly string[];
  /** Retain UIDs Option (113110); default true (the gateway's URLs carry the original UIDs). */
  retainUids?: boolean;
  /** Default 'remove'. */
  dates?: DatesOption;
  /** The secret of UID replacement and date shifts; needed when UIDs are replaced or dates shifted. */
  key?: string | Uint8Array;
}

/** What happens to one attribute. */
export type Operation = 'keep' | 'remove' | 'empty' | 'dummy' | 'uid' | 'shift';

/** The counters of a {@link DeidentificationReport}. */
export interface DeidentificationCounts {
  /** Attributes removed by the table (X). */
  removed: number;
  /** Attributes given an empty value (Z). */
  emptied: number;
  /** Attributes given a dummy value (D, and C outside dates). */
  dummied: number;
  /** Attributes whose UIDs were replaced (U). */
  uidsReplaced: number;
  /** DA and DT attributes shifted (Modified Dates Option). */
  datesShifted: number;
  /** Attributes of the table kept because of an option (K). */
  retained: number;
  /** Private attributes removed. */
  privateRemoved: number;
  /** Attributes removed by the mask. */
  masked: number;
}

/** What a de-identification did. */
export interface DeidentificationReport {
  profile: 'basic' | 'none';
  /** The CID 7050 codes recorded in De-identification Method Code Sequence (none for profile 'none'). */
  methods: DeidentificationMethod[];
  /** The Retain Safe Private Option is not applied: every private attribute is removed. */
  retainSafePrivate: false;
  counts: DeidentificationCounts;
  /** Burned In Annotation (0028,0301) is YES: the pixels may show identity; they were not cleaned. */
  burnedInAnnotation: boolean;
  warnings: string[];
}

/** One decision: the operation and the counter it adds to (none for attributes left alone). */
export interface Decision {
  op: Operation;
  count?: keyof DeidentificationCounts;
}

const KEEP: Decision = { op: 'keep' };
const TOP_LEVEL_METHOD_TAGS = new Set(['00120062', '00120063', '00120064']);
const DUMMY_TEXT = 'ANONYMOUS';
/** Dummy values by VR (PS3.5 Table 6.2-1); text VRs not listed get {@link DUMMY_TEXT}. */
const DUMMY_BY_VR: Record<string, string> = { DA: '19000101', DT: '19000101', TM: '000000', AS: '000Y', IS: '0', DS: '0' };
/** Dummy values by tag, where the VR's generic one would be malformed. */
const DUMMY_BY_TAG: Record<string, string> = { '00080201': '+0000' };
/** Byte length of the dummy value of binary VRs (all bytes zero). */
export const DUMMY_BINARY_LENGTH: Record<string, number> = {
  OB: 2,
  OW: 2,
  UN: 2,
  OF: 4,
  OL: 4,
  OD: 8,
  OV: 8,
  US: 2,
  SS: 2,
  UL: 4,
  SL: 4,
  FL: 4,
  FD: 8,
  SV: 8,
  UV: 8,
  AT: 4,
};
/** Days of the date shift: between 1 and this many days into the past. */
const MAX_SHIFT_DAYS = 3650;

/** The compiled options: the decision for each attribute, and the replacement values. */
export class DeidentificationPlan {
  readonly profile: 'basic' | 'none';
  readonly retainUids: boolean;
  readonly dates: DatesOption;
  readonly methods: DeidentificationMethod[];
  private readonly mask: ReadonlySet<string>;
  private readonly key: Uint8Array | undefined;
  private readonly uids = new Map<string, string>();

  constructor(options: DeidentifyOptions = {}) {
    this.profile = options.profile ?? 'basic';
    this.retainUids = options.retainUids ?? true;
    this.dates = options.dates ?? 'remove';
    if (!['basic', 'none'].includes(this.profile)) throw usage(`unknown profile ${JSON.stringify(this.profile)}`);
    if (!['remove', 'shift', 'keep'].includes(this.dates)) throw usage(`unknown dates option ${JSON.stringify(this.dates)}`);
    this.mask = maskTags(options.mask ?? []);
    this.key = options.key === undefined ? undefined : typeof options.key === 'string' ? Buffer.from(options.key, 'utf8') : options.key;
    if (this.key !== undefined && this.key.length === 0) throw usage('the key is empty');
    this.methods = [];
    if (this.profile === 'basic') {
      this.methods.push(DEIDENTIFICATION_METHODS.basic);
      if (this.dates === 'keep') this.methods.push(DEIDENTIFICATION_METHODS.retainLongFullDates);
      if (this.dates === 'shift') this.methods.push(DEIDENTIFICATION_METHODS.retainLongModifiedDates);
      if (this.retainUids) this.methods.push(DEIDENTIFICATION_METHODS.retainUids);
    }
  }

  /** The decision for one attribute (tag: 8 upper-case hex digits; vr: its resolved VR). */
  decide(tag: string, vr: string, depth: number): Decision {
    if (this.mask.has(tag)) return { op: 'remove', count: 'masked' };
    if (this.profile === 'none') return KEEP;
    if (depth === 0 && TOP_LEVEL_METHOD_TAGS.has(tag)) return { op: 'remove' }; // written anew
    const row = annexEAction(tag);
    if (row === undefined) return KEEP;
    if (row.tag === 'ggggeeee') return { op: 'remove', count: 'privateRemoved' };
    let code: AnnexEActionCode = row.basic;
    if (this.retainUids && row.retainUids !== undefined) code = row.retainUids;
    else if (this.dates === 'keep' && row.retainLongFullDates !== undefined) code = row.retainLongFullDates;
    else if (this.dates === 'shift' && row.retainLongModifiedDates !== undefined) code = row.retainLongModifiedDates;
    return decisionFor(code, vr);
  }

  /** The replacement of a UID: 2.25 and the decimal of a keyed hash (a version 8 UUID), stable per key. */
  replaceUid(uid: string): string {
    let replacement = this.uids.get(uid);
    if (replacement === undefined) {
      const hash = this.hmac(`uid\0${uid}`, 'replace UIDs').subarray(0, 16);
      hash[6] = (hash[6] & 0x0f) | 0x80; // RFC 9562 version 8 (custom)
      hash[8] = (hash[8] & 0x3f) | 0x80; // variant 10
      replacement = `2.25.${BigInt(`0x${Buffer.from(hash).toString('hex')}`).toString(10)}`;
      this.uids.set(uid, replacement);
    }
    return replacement;
  }

  /** The date shift of one patient (identified by Patient ID), in days: between -1 and -3650. */
  shiftDays(patient: string): number {
    const hash = this.hmac(`date-shift\0${patient}`, 'shift dates');
    return -(1 + (Buffer.from(hash).readUInt32BE(0) % MAX_SHIFT_DAYS));
  }

  private hmac(message: string, purpose: string): Uint8Array {
    if (this.key === undefined) throw usage(`a key is needed to ${purpose}`);
    return createHmac('sha256', this.key).update(message, 'utf8').digest();
  }
}

function decisionFor(code: AnnexEActionCode, vr: string): Decision {
  switch (code) {
    case 'K':
      return { op: 'keep', count: 'retained' };
    case 'X':
    case 'X/D':
      return { op: 'remove', count: 'removed' };
    case 'Z':
    case 'X/Z':
    case 'X/Z/D':
    case 'Z/D':
      return { op: 'empty', count: 'emptied' };
    case 'D':
      return { op: 'dummy', count: 'dummied' };
    case 'U':
      return { op: 'uid', count: 'uidsReplaced' };
    case 'X/Z/U*':
      return KEEP; // the items are treated; their UIDs are U rows
    case 'C':
      if (vr === 'DA' || vr === 'DT') return { op: 'shift', count: 'datesShifted' };
      if (vr === 'TM') return { op: 'keep', count: 'retained' };
      return { op: 'dummy', count: 'dummied' };
  }
}

function maskTags(mask: readonly string[]): ReadonlySet<string> {
  const tags = new Set<string>();
  for (const entry of mask) {
    const tag = normalizeTag(entry) ?? tagForKeyword(entry);
    if (tag === undefined) throw usage(`the mask names no attribute: ${JSON.stringify(entry)}`);
    tags.add(tag);
  }
  return tags;
}

function usage(message: string): GatewayError {
  return new GatewayError('INTERNAL', `de-identification: ${message}`);
}

/**
 * The dummy value of a text VR ('ANONYMOUS', or a valid date, time, age or number), or undefined
 * for binary VRs, UI (replaced like a UID) and SQ. Always ASCII, so valid in any character set.
 */
export function dummyText(tag: string, vr: string): string | undefined {
  if (vr === 'SQ' || vr === 'UI' || DUMMY_BINARY_LENGTH[vr] !== undefined) return undefined;
  return DUMMY_BY_TAG[tag] ?? DUMMY_BY_VR[vr] ?? DUMMY_TEXT;
}

/**
 * One DA or DT value (trimmed) shifted by `days`; '' when it is not a date this can shift
 * (fewer than 8 digits of year, month and day, or an impossible date). The rest of a DT value
 * (time, fraction, offset) is kept.
 */
export function shiftDate(value: string, days: number): string {
  const match = /^(\d{4})(\d{2})(\d{2})/.exec(value);
  if (match === null) return '';
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return '';
  date.setUTCDate(date.getUTCDate() + days);
  const shifted = date.getUTCFullYear();
  if (shifted < 1 || shifted > 9999) return '';
  const text = `${String(shifted).padStart(4, '0')}${String(date.getUTCMonth() + 1).padStart(2, '0')}${String(date.getUTCDate()).padStart(2, '0')}`;
  return text + value.slice(8);
}

/** A new, empty report. */
export function newReport(plan: DeidentificationPlan): DeidentificationReport {
  return {
    profile: plan.profile,
    methods: [...plan.methods],
    retainSafePrivate: false,
    counts: { removed: 0, emptied: 0, dummied: 0, uidsReplaced: 0, datesShifted: 0, retained: 0, privateRemoved: 0, masked: 0 },
    burnedInAnnotation: false,
    warnings: [],
  };
}

/** Burned In Annotation is YES: records it in the report, with a warning. */
export function noteBurnedInAnnotation(report: DeidentificationReport, value: unknown): void {
  if (typeof value !== 'string' || value.trim().toUpperCase() !== 'YES') return;
  report.burnedInAnnotation = true;
  report.warnings.push('Burned In Annotation (0028,0301) is YES: the pixel data may show identifying text; Aegis does not clean pixels');
}

/**
 * A kept attribute whose VR nobody knows (UN, not private, not in the data dictionary): its value
 * cannot be inspected, so the report says it was kept as it is (once per tag).
 */
export function noteOpaque(report: DeidentificationReport, tag: string, vr: string, decision: Decision): void {
  if (report.profile !== 'basic' || decision.op !== 'keep' || vr !== 'UN' || isPrivateTag(tag) || dictionaryVR(tag) !== undefined) return;
  const warning = `(${tag.slice(0, 4)},${tag.slice(4)}) has a value of unknown VR that Aegis cannot inspect; it was kept as it is`;
  if (!report.warnings.includes(warning)) report.warnings.push(warning);
}

/** The value of De-identification Method (0012,0063): the meanings of the methods applied. */
export function methodDescription(methods: readonly DeidentificationMethod[]): string[] {
  return methods.map((m) => m.meaning);
}

/** Who a data set is about, for the per-patient date shift: its Patient ID (0010,0020), or ''. */
export function patientOf(metadata: Record<string, { Value?: unknown[] } | undefined>): string {
  const value = metadata['00100020']?.Value?.[0];
  return typeof value === 'string' ? value : '';
}
