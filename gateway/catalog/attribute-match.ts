/**
 * Matching an instance's metadata (DICOM JSON) against the QIDO-RS keys the catalog has no column
 * for (PS3.4 C.2.2.2: single value, wildcard `*` `?`, range matching of DA, TM and DT; a
 * multi-valued attribute matches when one of its values does), and finding a private attribute
 * through its Private Creator (PS3.5 §7.8.1): a query's `0009xx10` with Private Creator
 * `0009001x = NAME` is the element `10` of whichever block `NAME` reserved in that instance, and
 * is returned under the query's block, with the query's Private Creator element beside it.
 */
import type { DicomJson, DicomJsonAttribute } from '../dicom/types.js';
import type { AttributeFilter } from './query.js';

/** Private Creators by group and block, as a query gives them (`QidoQuery.privateCreators`). */
export type PrivateCreators = ReadonlyMap<string, string>;

/**
 * The work of wildcard matching, in steps (a character of a value read, a comparison): matching
 * gives up, as not matched, once `steps` passes `limit` (a search's remaining budget).
 */
export interface MatchWork {
  steps: number;
  limit: number;
}

/** Whether `tag` is in an odd (private) group. */
export function isPrivate(tag: string): boolean {
  return parseInt(tag.slice(0, 4), 16) % 2 === 1;
}

/**
 * The attribute `tag` of `metadata`; a private data element through the creator `creators` give
 * for its block (undefined when the instance has no block of that creator).
 */
export function attributeOf(metadata: DicomJson, tag: string, creators: PrivateCreators): DicomJsonAttribute | undefined {
  if (!isPrivate(tag)) return metadata[tag];
  const name = creators.get(tag.slice(0, 6));
  const block = name === undefined ? undefined : blockOf(metadata, tag.slice(0, 4), name);
  return block === undefined ? undefined : metadata[`${tag.slice(0, 4)}${block}${tag.slice(6)}`];
}

/** The block (2 hex digits) that the Private Creator `name` reserved in `group` of `metadata`. */
function blockOf(metadata: DicomJson, group: string, name: string): string | undefined {
  for (let block = 0x10; block <= 0xff; block++) {
    const hex = block.toString(16).toUpperCase();
    const creator = metadata[`${group}00${hex}`];
    if (creator !== undefined && textValues(creator)[0] === name) return hex;
  }
  return undefined;
}

/**
 * The private attributes among `tags` that `metadata` has, under the tags the query named, each
 * with its Private Creator element.
 */
export function privateAttributes(metadata: DicomJson, tags: Iterable<string>, creators: PrivateCreators): DicomJson {
  const out: DicomJson = {};
  for (const tag of tags) {
    if (!isPrivate(tag)) continue;
    const attribute = attributeOf(metadata, tag, creators);
    if (attribute === undefined) continue;
    out[`${tag.slice(0, 4)}00${tag.slice(4, 6)}`] = { vr: 'LO', Value: [creators.get(tag.slice(0, 6))] };
    out[tag] = attribute;
  }
  return out;
}

/**
 * The metadata `text` (an instance's, as stored) when it matches every filter. Text that cannot
 * (it lacks a public attribute a filter needs, or the literal text of its value) is refused
 * before it is parsed.
 */
export function metadataMatches(text: string, filters: readonly AttributeFilter[], creators: PrivateCreators, work?: MatchWork): DicomJson | undefined {
  for (const filter of filters) if (!isPrivate(filter.tag) && !mayMatch(text, filter)) return undefined;
  const metadata = JSON.parse(text) as DicomJson;
  return filters.every((filter) => attributeMatches(attributeOf(metadata, filter.tag, creators), filter, work)) ? metadata : undefined;
}

/**
 * False when `text` cannot hold a match of the public attribute `filter` names: the tag is absent,
 * or a literal part of a text value is nowhere in it (a number may be written otherwise: 0.5, .50).
 */
function mayMatch(text: string, filter: AttributeFilter): boolean {
  if (!text.includes(`"${filter.tag}"`)) return false;
  if (filter.kind !== 'value' || /^[+-]?[\d.]+$/.test(filter.value)) return true;
  return filter.value
    .split(/[*?]/)
    .filter((part) => part !== '')
    .every((part) => text.includes(JSON.stringify(part).slice(1, -1)));
}

function attributeMatches(attribute: DicomJsonAttribute | undefined, filter: AttributeFilter, work: MatchWork | undefined): boolean {
  if (attribute === undefined) return false;
  const values = textValues(attribute);
  if (filter.kind === 'range') {
    return values.some((v) => v !== '' && (filter.from === undefined || v >= filter.from) && (filter.to === undefined || v.slice(0, filter.to.length) <= filter.to));
  }
  if (filter.wildcard) return values.some((v) => wildcardMatches(filter.value, v, work));
  const number = /^[+-]?\d+(\.\d+)?$/.test(filter.value) ? Number(filter.value) : undefined;
  return values.some((v) => v === filter.value || (number !== undefined && v !== '' && Number(v) === number));
}

/** The values of an attribute as text: numbers in decimal, person names by their alphabetic group, UN bytes as Latin-1 text. */
function textValues(attribute: DicomJsonAttribute): string[] {
  if (attribute.Value !== undefined) {
    return attribute.Value.map((v) => {
      if (v === null || v === undefined) return '';
      if (typeof v === 'object') return String((v as { Alphabetic?: unknown }).Alphabetic ?? '');
      return String(v);
    });
  }
  if (attribute.InlineBinary !== undefined) {
    return Buffer.from(attribute.InlineBinary, 'base64')
      .toString('latin1')
      .replace(/[\0 ]+$/, '')
      .split('\\')
      .map((v) => v.trim());
  }
  return [];
}

/**
 * Wildcard matching (`*` any run, `?` any one character) in O(pattern x text) at worst, without
 * regular expressions: a pattern of many `*` cannot make it backtrack exponentially. With `work`,
 * its steps are counted there, and past `work.limit` it stops and answers false.
 */
export function wildcardMatches(pattern: string, text: string, work?: MatchWork): boolean {
  const p = [...pattern];
  const t = [...text];
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  if (work !== undefined) work.steps += p.length + t.length;
  while (j < t.length) {
    if (work !== undefined && ++work.steps > work.limit) return false;
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === t[j]))) {
      i += 1;
      j += 1;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i += 1;
  return i === p.length;
}
