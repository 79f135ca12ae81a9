/**
 * QIDO-RS below the query level (PS3.18 §10.6.1.2-3, PS3.4 C.4.1.2.3 relational queries): the
 * studies or series of a search together with the instance that stands for each of them, for the
 * attributes a result shows from below its level (`/studies?includefield=Rows`) and for matching
 * on attributes the catalog has no column for (StationName, a private attribute), which is done
 * on the instances' metadata.
 *
 * The instance that stands for a study or series is its first instance, in the order QIDO lists
 * instances (Series Instance UID, Instance Number, SOP Instance UID), among those that satisfy
 * every key of the query below the level searched; so `/studies?Rows=512&includefield=Rows` shows
 * 512, and without such keys the values are those of the study's (series') first instance.
 * PS3.18 §10.6.3.3.1-2 say series and instance attributes named in `includefield` "shall not be
 * returned" at the study (series) level; Aegis returns them, as clients of archives that keep one
 * instance's values per study expect (docs/qido-and-metadata.md states the deviation).
 *
 * The work of one search is bounded: keys with a catalog column are matched in SQL (indexed);
 * attribute filters read instance metadata, at most `query.scanLimit` instances per search, the
 * work of wildcard matching counted in instances too (a long value costs more than one read). A
 * search that reaches the bound returns what it found so far and says so (`exhausted`).
 */
import type { StudyFilter } from '../access/policy/policy.js';
import type { DicomJson } from '../dicom/types.js';
import { isPrivate, metadataMatches, type MatchWork } from './attribute-match.js';
import type { Catalog } from './catalog.js';
import { SERIES_LEVEL_TAGS, STUDY_LEVEL_TAGS } from './levels.js';
import { instanceConditions, lowerFilters } from './match-sql.js';
import type { QidoQuery } from './query.js';
import { searchInstances, searchSeries, searchStudies, type SearchPage } from './search.js';

/** A page of results, each with the instance that stands for it below its level. */
export interface DeepPage<Row> extends SearchPage<Row> {
  /** Per row: the metadata of the instance that stands for it; undefined when the query needs none. */
  instances: Array<DicomJson | undefined>;
  /** Instances whose metadata the search read for its attribute filters. */
  examined: number;
  /** The search stopped at `query.scanLimit`: there may be matches it did not reach. */
  exhausted: boolean;
}

/** Candidates read from the catalog at a time while attribute filters are matched. */
const BATCH = 100;

/**
 * Steps of wildcard matching that count as one instance read (about as long as reading one):
 * matching a pattern against a long value costs up to pattern x value, so it is counted too.
 */
const STEPS_PER_INSTANCE = 4096;

/** Study rows matching a study-level query, each with the instance that stands for it. */
export function searchStudiesDeep(catalog: Catalog, query: QidoQuery, permitted: StudyFilter) {
  return deepSearch(
    catalog,
    query,
    (q) => searchStudies(catalog, q, permitted),
    (row) => ({ study: row.study_uid }),
  );
}

/** Series rows matching a series-level query, each with the instance that stands for it. */
export function searchSeriesDeep(catalog: Catalog, query: QidoQuery, permitted: StudyFilter) {
  return deepSearch(
    catalog,
    query,
    (q) => searchSeries(catalog, q, permitted),
    (row) => ({ study: row.study_uid, series: row.series_uid }),
  );
}

/** Instance rows matching an instance-level query (attribute filters on their own metadata). */
export function searchInstancesDeep(catalog: Catalog, query: QidoQuery, permitted: StudyFilter) {
  return deepSearch(catalog, query, (q) => searchInstances(catalog, q, permitted), 'self' as const);
}

type Parent = { study: string; series?: string };
type Stand<Row> = ((row: Row) => Parent) | 'self';

/** Per search: how many instances were read, of how many allowed. */
interface Scan {
  examined: number;
  exhausted: boolean;
}

async function deepSearch<Row extends object>(catalog: Catalog, query: QidoQuery, fetch: (q: QidoQuery) => Promise<SearchPage<Row>>, stand: Stand<Row>): Promise<DeepPage<Row>> {
  const scan: Scan = { examined: 0, exhausted: false };
  const standIn = (row: Row) => (stand === 'self' ? ownMetadata(row, query, scan) : firstInstance(catalog, query, stand(row), scan));
  if (query.attributeFilters.length === 0) {
    const page = await fetch(query);
    const instances = stand !== 'self' && needsInstance(query) ? await Promise.all(page.rows.map(standIn)) : [];
    return { ...page, instances, ...scan };
  }
  const found: Array<{ row: Row; instance: DicomJson }> = [];
  let skipped = 0;
  let offset = 0;
  scanning: for (;;) {
    const batch = await fetch({ ...query, limit: BATCH, offset });
    offset += batch.rows.length;
    for (const row of batch.rows) {
      const instance = await standIn(row);
      if (scan.exhausted) break scanning;
      if (instance === undefined) continue;
      if (skipped < query.offset) skipped += 1;
      else if (found.push({ row, instance }) > query.limit) break scanning;
    }
    if (!batch.hasMore) break;
  }
  const page = found.slice(0, query.limit);
  return { rows: page.map((f) => f.row), instances: page.map((f) => f.instance), hasMore: found.length > query.limit, ...scan };
}

/** Whether the results of a study or series search show anything from below their level. */
function needsInstance(query: QidoQuery): boolean {
  if (lowerFilters(query).length > 0) return true;
  const held = (tag: string) => STUDY_LEVEL_TAGS.has(tag) || (query.level !== 'study' && SERIES_LEVEL_TAGS.has(tag));
  return [...query.include].some((tag) => !held(tag) || isPrivate(tag));
}

/** An instance row's own metadata when it matches the attribute filters. */
function ownMetadata(row: object, query: QidoQuery, scan: Scan): DicomJson | undefined {
  if (!counted(scan, query)) return undefined;
  return matched((row as { metadata: string }).metadata, query, scan);
}

/**
 * The metadata `text` of an instance just counted when it matches the attribute filters; the work
 * of matching beyond one instance's worth is counted as further instances, and matching stops
 * (exhausted) when the search's bound is reached.
 */
function matched(text: string, query: QidoQuery, scan: Scan): DicomJson | undefined {
  const work: MatchWork = { steps: 0, limit: (query.scanLimit - scan.examined + 1) * STEPS_PER_INSTANCE };
  const metadata = metadataMatches(text, query.attributeFilters, query.privateCreators, work);
  scan.examined = Math.min(query.scanLimit, scan.examined + Math.floor(work.steps / STEPS_PER_INSTANCE));
  if (work.steps <= work.limit) return metadata;
  scan.exhausted = true;
  return undefined;
}

/** Counts one more instance read; false (and exhausted) past the bound. */
function counted(scan: Scan, query: QidoQuery): boolean {
  if (scan.examined >= query.scanLimit) {
    scan.exhausted = true;
    return false;
  }
  scan.examined += 1;
  return true;
}

/** The first instance of `parent` that satisfies the query's keys below its level (see the module header). */
async function firstInstance(catalog: Catalog, query: QidoQuery, parent: Parent, scan: Scan): Promise<DicomJson | undefined> {
  let select = catalog.db.selectFrom('instances as i').innerJoin('series as se', 'se.series_uid', 'i.series_uid').select('i.metadata').where('i.study_uid', '=', parent.study);
  if (parent.series !== undefined) select = select.where('i.series_uid', '=', parent.series);
  if (lowerFilters(query).length > 0) select = select.where((eb) => eb.and(instanceConditions(eb, query)));
  select = select.orderBy('i.series_uid').orderBy('i.instance_number').orderBy('i.sop_instance_uid');
  if (query.attributeFilters.length === 0) {
    const row = await select.limit(1).executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.metadata) as DicomJson);
  }
  for (let offset = 0; ; offset += BATCH) {
    const rows = await select.limit(BATCH).offset(offset).execute();
    for (const row of rows) {
      if (!counted(scan, query)) return undefined;
      const metadata = matched(row.metadata, query, scan);
      if (scan.exhausted) return undefined;
      if (metadata !== undefined) return metadata;
    }
    if (rows.length < BATCH) return undefined;
  }
}
