/**
 * Turns a parsed QIDO-RS query into catalog SQL (portable: SQLite and PostgreSQL) so that
 * filtering, ordering and paging happen in the database and `limit`/`offset` page over matches
 * only (the conditions are `match-sql.ts`'s). Also counts the related series and instances and collects ModalitiesInStudy for a page.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import type { StudyFilter } from '../access/policy/policy.js';
import type { QidoQuery } from './query.js';
import type { Catalog } from './catalog.js';
import { matchConditions, type Eb } from './match-sql.js';

/** Rows of one page of a search; `hasMore` when matches remain beyond it. */
export interface SearchPage<Row> {
  rows: Row[];
  hasMore: boolean;
}

/** Study rows matching a study-level query. */
export async function searchStudies(catalog: Catalog, query: QidoQuery, permitted: StudyFilter = ALL_STUDIES) {
  const rows = await catalog.db
    .selectFrom('studies as st')
    .selectAll('st')
    .where((eb) => conditions(eb as unknown as Eb, query, permitted))
    .orderBy('st.study_date', 'desc')
    .orderBy('st.study_time', 'desc')
    .orderBy('st.study_uid')
    .limit(query.limit + 1)
    .offset(query.offset)
    .execute();
  return page(rows, query.limit);
}

/** Series rows (with their study row's attributes) matching a series-level query. */
export async function searchSeries(catalog: Catalog, query: QidoQuery, permitted: StudyFilter = ALL_STUDIES) {
  const rows = await catalog.db
    .selectFrom('series as se')
    .innerJoin('studies as st', 'st.study_uid', 'se.study_uid')
    .selectAll('se')
    .select(['st.attributes as study_attributes'])
    .where((eb) => conditions(eb as unknown as Eb, query, permitted))
    .orderBy('se.study_uid')
    .orderBy('se.series_number')
    .orderBy('se.series_uid')
    .limit(query.limit + 1)
    .offset(query.offset)
    .execute();
  return page(rows, query.limit);
}

/** Instance rows (with their series' and study's attributes) matching an instance-level query. */
export async function searchInstances(catalog: Catalog, query: QidoQuery, permitted: StudyFilter = ALL_STUDIES) {
  const rows = await catalog.db
    .selectFrom('instances as i')
    .innerJoin('series as se', 'se.series_uid', 'i.series_uid')
    .innerJoin('studies as st', 'st.study_uid', 'i.study_uid')
    .select(['i.sop_instance_uid', 'i.series_uid', 'i.study_uid', 'i.metadata', 'i.transfer_syntax_uid', 'se.attributes as series_attributes', 'st.attributes as study_attributes'])
    .where((eb) => conditions(eb as unknown as Eb, query, permitted))
    .orderBy('i.study_uid')
    .orderBy('i.series_uid')
    .orderBy('i.instance_number')
    .orderBy('i.sop_instance_uid')
    .limit(query.limit + 1)
    .offset(query.offset)
    .execute();
  return page(rows, query.limit);
}

/** Per study: number of series, number of instances and the distinct modalities. */
export async function studyCounts(catalog: Catalog, studyUids: string[]) {
  const result = new Map<string, { series: number; instances: number; modalities: string[] }>();
  if (studyUids.length === 0) return result;
  for (const uid of studyUids) result.set(uid, { series: 0, instances: 0, modalities: [] });
  const series = await catalog.db.selectFrom('series').select(['study_uid', 'modality']).where('study_uid', 'in', studyUids).execute();
  for (const s of series) {
    const entry = result.get(s.study_uid)!;
    entry.series += 1;
    if (s.modality && !entry.modalities.includes(s.modality)) entry.modalities.push(s.modality);
  }
  for (const entry of result.values()) entry.modalities.sort();
  const counts = await catalog.db
    .selectFrom('instances')
    .select(['study_uid', (eb) => eb.fn.countAll<number>().as('n')])
    .where('study_uid', 'in', studyUids)
    .groupBy('study_uid')
    .execute();
  for (const c of counts) result.get(c.study_uid)!.instances = Number(c.n);
  return result;
}

/** Per series: number of instances. */
export async function seriesCounts(catalog: Catalog, seriesUids: string[]) {
  const result = new Map<string, number>();
  if (seriesUids.length === 0) return result;
  const counts = await catalog.db
    .selectFrom('instances')
    .select(['series_uid', (eb) => eb.fn.countAll<number>().as('n')])
    .where('series_uid', 'in', seriesUids)
    .groupBy('series_uid')
    .execute();
  for (const c of counts) result.set(c.series_uid, Number(c.n));
  return result;
}

function page<Row>(rows: Row[], limit: number): SearchPage<Row> {
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
}

const ALL_STUDIES: StudyFilter = { kind: 'all' };

/**
 * The query's conditions, and the access policy's: only studies the subject may search match, so
 * that `limit` and `offset` page over permitted results and nothing else is counted.
 */
function conditions(eb: Eb, query: QidoQuery, permitted: StudyFilter): Expression<SqlBool> {
  const all: Expression<SqlBool>[] = [];
  if (permitted.kind === 'none') return sql<SqlBool>`1 = 0`;
  if (permitted.kind === 'where') all.push(permitted.expression(eb, 'st'));
  if (query.scope.study !== undefined) all.push(eb(sql.ref(query.level === 'study' ? 'st.study_uid' : 'se.study_uid'), '=', query.scope.study));
  if (query.scope.series !== undefined) all.push(eb(sql.ref('se.series_uid'), '=', query.scope.series));
  all.push(...matchConditions(eb, query));
  return eb.and(all);
}
