/**
 * The query model of a QIDO-RS search (PS3.18 §10.6): the level searched, the path constraints,
 * the matching conditions, the attributes to return and the page. The HTTP layer parses a request
 * into it (`http/qido-query.ts`); the catalog turns it into SQL (`catalog/search.ts`).
 */

/** The level a search returns. */
export type QidoLevel = 'study' | 'series' | 'instance';

/** Where each matchable attribute lives: the level it belongs to and how it is matched. */
export const MATCHABLE: Record<string, { level: QidoLevel; match: 'uids' | 'text' | 'person' | 'date' | 'time' | 'number' }> = {
  '0020000D': { level: 'study', match: 'uids' },
  '00100010': { level: 'study', match: 'person' },
  '00100020': { level: 'study', match: 'text' },
  '00100030': { level: 'study', match: 'date' },
  '00100040': { level: 'study', match: 'text' },
  '00080020': { level: 'study', match: 'date' },
  '00080030': { level: 'study', match: 'time' },
  '00080050': { level: 'study', match: 'text' },
  '00080061': { level: 'study', match: 'text' },
  '00080090': { level: 'study', match: 'person' },
  '00200010': { level: 'study', match: 'text' },
  '00081030': { level: 'study', match: 'text' },
  '0020000E': { level: 'series', match: 'uids' },
  '00080060': { level: 'series', match: 'text' },
  '00200011': { level: 'series', match: 'number' },
  '0008103E': { level: 'series', match: 'text' },
  '00400244': { level: 'series', match: 'date' },
  '00400245': { level: 'series', match: 'time' },
  '00080018': { level: 'instance', match: 'uids' },
  '00080016': { level: 'instance', match: 'uids' },
  '00200013': { level: 'instance', match: 'number' },
  '00083002': { level: 'instance', match: 'uids' },
  '00280010': { level: 'instance', match: 'number' },
  '00280011': { level: 'instance', match: 'number' },
  '00280008': { level: 'instance', match: 'number' },
  '00280100': { level: 'instance', match: 'number' },
};

/**
 * Matching on an attribute the catalog has no column for (StationName, a private attribute, ...):
 * evaluated on the metadata of instances, as many as `QidoQuery.scanLimit` allows. A private data
 * element (`0009xx10` style) is found through the Private Creator given for its block.
 */
export type AttributeFilter = { tag: string; kind: 'value'; value: string; wildcard: boolean } | { tag: string; kind: 'range'; from?: string; to?: string };

/** One matching condition on a catalog attribute. */
export type QidoFilter =
  { tag: string; kind: 'uids'; values: string[] } | { tag: string; kind: 'text'; value: string; wildcard: boolean } | { tag: string; kind: 'range'; from?: string; to?: string } | { tag: string; kind: 'number'; value: number };

/** A parsed search. */
export interface QidoQuery {
  level: QidoLevel;
  /** Path constraints: `/studies/{study}/series`, `/studies/{study}/series/{series}/instances`. */
  scope: { study?: string; series?: string };
  filters: QidoFilter[];
  /** Matching on attributes without a catalog column, evaluated on the instances' metadata. */
  attributeFilters: AttributeFilter[];
  /**
   * The Private Creators given as match parameters (PS3.18 §8.3.4.3, PS3.5 §7.8.1): group and
   * block (`000910` for `00090010`) to the creator's name. A private attribute `0009xx10` of the
   * query is the element `10` of the block this creator holds in an instance, whatever its number.
   */
  privateCreators: Map<string, string>;
  /** Most instances a search may examine for {@link attributeFilters} (`limits.maxQidoScan`). */
  scanLimit: number;
  fuzzy: boolean;
  /** Attributes to return beyond the level's defaults (tags); `all` returns every attribute held. */
  include: Set<string>;
  includeAll: boolean;
  limit: number;
  offset: number;
  /** Warnings for the `Warning` response header (PS3.18 §8.3.4.4), e.g. keys not supported for matching. */
  warnings: string[];
}
