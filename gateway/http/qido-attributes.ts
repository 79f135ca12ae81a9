/**
 * The QIDO-RS query keys the catalog has no column for (PS3.18 §8.3.4.1): matching on any other
 * attribute of an instance (StationName, ImageType, a private attribute), and the Private Creators
 * a query must give for the private attributes it names (PS3.18 §8.3.4.3: "If an include
 * parameter represents a Private Data Element a corresponding Private Creator Element shall be
 * specified as an additional match parameter", PS3.5 §7.8.1).
 */
import type { AttributeFilter, QidoQuery } from '../catalog/query.js';
import { isPrivateCreatorTag, isPrivateTag, vrForTag } from '../dicom/dictionary.js';
import { GatewayError } from '../errors.js';

/** VRs whose values are bytes or items: no value matching on them. */
const UNMATCHABLE_VRS = new Set(['SQ', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const RANGE_VRS = new Set(['DA', 'TM', 'DT']);
const LONGEST_VALUE = 256;

/**
 * The filter of key `key` (tag `tag`) with `raw`, or undefined for universal matching and for
 * attributes whose values cannot be matched (a warning says so).
 */
export function parseAttributeFilter(tag: string, raw: string, key: string, warnings: string[]): AttributeFilter | undefined {
  const value = raw.trim();
  const vr = vrForTag(tag);
  if (vr !== undefined && UNMATCHABLE_VRS.has(vr)) {
    warnings.push(`matching on ${key} (VR ${vr}) is not supported; it was ignored`);
    return undefined;
  }
  if (value === '' || value === '*') return undefined; // universal matching
  if (value.length > LONGEST_VALUE) throw new GatewayError('INVALID_QUERY_VALUE', `${key} value is too long`);
  if (vr !== undefined && RANGE_VRS.has(vr) && value.includes('-')) {
    const [from, to, extra] = value.split('-');
    if (extra !== undefined || (from === '' && to === '') || !/^[\d.+]*$/.test(from + to)) {
      throw new GatewayError('INVALID_QUERY_VALUE', `${key} '${value.slice(0, 64)}' is not a value or a range of ${vr} values`);
    }
    return { tag, kind: 'range', from: from || undefined, to: to || undefined };
  }
  return { tag, kind: 'value', value, wildcard: /[*?]/.test(value) };
}

/**
 * Checks that every private attribute the query names (to match or to include) has its Private
 * Creator among the match parameters, and that it is a private data element (`gggg,xxee` with xx
 * 10-FF); refuses the query (400 INVALID_QUERY_KEY) otherwise. Private Creators named in
 * `includefield` are dropped from it: they come with the attributes of their block.
 */
export function checkPrivateCreators(query: QidoQuery): void {
  for (const tag of query.include) if (isPrivateCreatorTag(tag)) query.include.delete(tag);
  const named = new Set([...query.include, ...query.attributeFilters.map((f) => f.tag)]);
  for (const tag of named) {
    if (!isPrivateTag(tag)) continue;
    const block = parseInt(tag.slice(4, 6), 16);
    if (block < 0x10) throw new GatewayError('INVALID_QUERY_KEY', `${tag} is not a private data element (PS3.5 §7.8.1: element numbers xx10-xxFF hold them)`);
    const creator = `${tag.slice(0, 4)}00${tag.slice(4, 6)}`;
    const name = query.privateCreators.get(tag.slice(0, 6));
    if (name === undefined || name === '') {
      throw new GatewayError('INVALID_QUERY_KEY', `private attribute ${tag} needs its Private Creator ${creator} as a match parameter (${creator}=CREATOR NAME)`);
    }
  }
}
