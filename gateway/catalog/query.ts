/**
 * The query model of a QIDO-RS search (PS3.18 §10.6): the level searched, the path constraints,
 * the matching conditions, the attributes to return and the page. The HTTP layer parses a request
 * into it (`http/qido-query.ts`); the catalog turns it into SQL (`catalog/search.ts`).
 */

/** The level a search returns. */
export type QidoLevel = 'study' | 'series' | 'instance';

/** One matching condition on a catalog attribute. */
export type QidoFilter =
  | { tag: string; kind: 'uids'; values: string[] }
  | { tag: string; kind: 'text'; value: string; wildcard: boolean }
  | { tag: string; kind: 'range'; from?: string; to?: string }
  | { tag: string; kind: 'number'; value: number };

/** A parsed search. */
export interface QidoQuery {
  level: QidoLevel;
  /** Path constraints: `/studies/{study}/series`, `/studies/{study}/series/{series}/instances`. */
  scope: { study?: string; series?: string };
  filters: QidoFilter[];
  fuzzy: boolean;
  /** Attributes to return beyond the level's defaults (tags); `all` returns every attribute held. */
  include: Set<string>;
  includeAll: boolean;
  limit: number;
  offset: number;
  /** Warnings for the `Warning` response header (PS3.18 §8.3.4.4), e.g. keys not supported for matching. */
  warnings: string[];
}
