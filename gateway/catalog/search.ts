/**
 * Turns a parsed QIDO-RS query into catalog SQL (portable: SQLite and PostgreSQL) so that
 * filtering, ordering and paging happen in the database and `limit`/`offset` page over matches
 * only. Also counts the related series and instances and collects ModalitiesInStudy for a page.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { StudyFilter } from '../access/policy/policy.js';
import type { QidoFilter, QidoQuery } from './query.js';
import type { Catalog } from './catalog.js';
import type { CatalogDatabase } from './schema.js';
import { fuzzyForm, paddedTime } from './levels.js';

type Joined = CatalogDatabase & { st: CatalogDatabase['studies']; se: CatalogDatabase['series']; i: CatalogDatabase['instances'] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the builder is used across tables and aliases
type Eb = ExpressionBuilder<Joined, any>;

/** Catalog columns of the matchable attributes; person names carry their fuzzy column too. */
const COLUMNS: Record<string, { column: string; fuzzy?: string; time?: boolean }> = {
  '0020000D': { column: 'st.study_uid' },
  '00100010': { column: 'st.patient_name', fuzzy: 'st.patient_name_fuzzy' },
  '00100020': { column: 'st.patient_id' },
  '00100030': { column: 'st.patient_birth_date' },
  '00100040': { column: 'st.patient_sex' },
  '00080020': { column: 'st.study_date' },
  '00080030': { column: 'st.study_time', time: true },
  '00080050': { column: 'st.accession_number' },
  '00080090': { column: 'st.referring_physician_name', fuzzy: 'st.referring_physician_fuzzy' },
  '00200010': { column: 'st.study_id' },
  '00081030': { column: 'st.study_description' },
  '0020000E': { column: 'se.series_uid' },
  '00080060': { column: 'se.modality' },
  '00200011': { column: 'se.series_number' },
  '0008103E': { column: 'se.series_description' },
  '00400244': { column: 'se.performed_start_date' },
  '00400245': { column: 'se.performed_start_time', time: true },
  '00080018': { column: 'i.sop_instance_uid' },
  '00080016': { column: 'i.sop_class_uid' },
  '00200013': { column: 'i.instance_number' },
  '00083002': { column: 'i.transfer_syntax_uid' },
};

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
  if (query.scope.study !== undefined) all.push(eb(ref(query.level === 'study' ? 'st.study_uid' : 'se.study_uid'), '=', query.scope.study));
  if (query.scope.series !== undefined) all.push(eb(ref('se.series_uid'), '=', query.scope.series));
  for (const filter of query.filters) all.push(condition(eb, filter, query.fuzzy));
  return eb.and(all);
}

function condition(eb: Eb, filter: QidoFilter, fuzzy: boolean): Expression<SqlBool> {
  if (filter.tag === '00080061') return modalitiesInStudy(eb, filter);
  const spec = COLUMNS[filter.tag];
  const column = ref(spec.column);
  switch (filter.kind) {
    case 'uids':
      return eb(column, 'in', filter.values);
    case 'number':
      return eb(column, '=', filter.value);
    case 'range': {
      const parts: Expression<SqlBool>[] = [];
      const from = spec.time ? paddedTime(filter.from ?? null) : filter.from;
      const to = spec.time ? upperTime(filter.to) : filter.to;
      if (from) parts.push(eb(column, '>=', from));
      if (to) parts.push(eb(column, '<=', to));
      return eb.and(parts);
    }
    case 'text':
      if (fuzzy && spec.fuzzy) return fuzzyName(eb, ref(spec.fuzzy), filter.value);
      return filter.wildcard ? like(column, filter.value) : eb(column, '=', filter.value);
  }
}

/** ModalitiesInStudy matches when any series of the study has one of the given modalities. */
function modalitiesInStudy(eb: Eb, filter: QidoFilter): Expression<SqlBool> {
  const values = filter.kind === 'text' ? filter.value.split('\\') : [];
  return eb.exists(
    eb
      .selectFrom('series as ms')
      .select('ms.series_uid')
      .whereRef('ms.study_uid', '=', ref('st.study_uid'))
      .where((inner) => inner.or(values.map((v) => (/[*?]/.test(v) ? like(ref('ms.modality'), v) : inner(ref('ms.modality'), '=', v))))),
  );
}

/**
 * Fuzzy person-name matching (PS3.18 §8.3.4.1, implementation-defined): case- and accent-
 * insensitive; without wildcards the value matches the start of any name component.
 */
function fuzzyName(eb: Eb, column: ReturnType<typeof ref>, value: string): Expression<SqlBool> {
  const folded = fuzzyForm(value)!;
  if (/[*?]/.test(folded)) return like(column, folded);
  const escaped = escapeLike(folded);
  return eb.or([`${escaped}%`, `%^${escaped}%`, `% ${escaped}%`, `%=${escaped}%`].map((p) => sql<SqlBool>`${column} like ${p} escape '\\'`));
}

function like(column: ReturnType<typeof ref>, pattern: string): Expression<SqlBool> {
  const translated = escapeLike(pattern).replace(/\*/g, '%').replace(/\?/g, '_');
  return sql<SqlBool>`${column} like ${translated} escape '\\'`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function upperTime(time: string | undefined): string | undefined {
  if (!time) return undefined;
  const [whole, fraction = ''] = time.split('.');
  return `${whole}${'595959'.slice(whole.length)}.${fraction.padEnd(6, '9')}`;
}

function ref(column: string) {
  return sql.ref(column);
}
