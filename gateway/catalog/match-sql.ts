/**
 * The SQL of QIDO-RS matching (PS3.18 §8.3.4.1, PS3.4 C.2.2.2): each matchable attribute's catalog
 * column, single value, wildcard, UID list, range and fuzzy matching on it, and relational matching
 * (PS3.4 C.4.1.2.3): a key of a level below the one searched (`/studies?Rows=512`) matches a study
 * or series when one of its instances matches every such key (an `EXISTS` over the instances).
 * Portable SQL (SQLite and PostgreSQL).
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { QidoFilter, QidoLevel, QidoQuery } from './query.js';
import type { CatalogDatabase } from './schema.js';
import { fuzzyForm, paddedTime } from './levels.js';

type Joined = CatalogDatabase & { st: CatalogDatabase['studies']; se: CatalogDatabase['series']; i: CatalogDatabase['instances'] };
/** An expression builder over the studies (`st`), series (`se`) and instances (`i`) of a search. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the builder is used across tables and aliases
export type Eb = ExpressionBuilder<Joined, any>;

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
  '00080061': { column: 'st.study_uid' },
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
  '00280010': { column: 'i.rows' },
  '00280011': { column: 'i.columns' },
  '00280008': { column: 'i.number_of_frames' },
  '00280100': { column: 'i.bits_allocated' },
};

/**
 * Attributes without a column of their own whose values the study's policy attributes record for
 * every instance (`study_policy_attributes`): a study none of whose instances has the value is
 * left out by the index before any instance is read.
 */
const POLICY_COLUMNS: Record<string, string> = {
  '00080080': 'institution_name',
  '00081040': 'department_name',
  '00401008': 'confidentiality_code',
};

const LEVEL_OF_ALIAS: Record<string, QidoLevel> = { st: 'study', se: 'series', i: 'instance' };
const RANK: Record<QidoLevel, number> = { study: 0, series: 1, instance: 2 };

/** The level whose table holds the column `filter` matches on. */
export function filterLevel(filter: QidoFilter): QidoLevel {
  return LEVEL_OF_ALIAS[COLUMNS[filter.tag].column.split('.')[0]];
}

/** The filters of `query` on columns of a level below the one it searches. */
export function lowerFilters(query: QidoQuery): QidoFilter[] {
  return query.filters.filter((f) => RANK[filterLevel(f)] > RANK[query.level]);
}

/**
 * The conditions of a search of `query.level`: those on its own level and above as they are, those
 * on lower levels as one `EXISTS` over the study's or series' instances (joined with their series
 * at the study level), and the index's condition for attribute filters it can pre-check.
 */
export function matchConditions(eb: Eb, query: QidoQuery): Expression<SqlBool>[] {
  const lower = lowerFilters(query);
  const all = query.filters.filter((f) => !lower.includes(f)).map((f) => condition(eb, f, query.fuzzy));
  if (lower.length > 0) {
    const parent = query.level === 'study' ? sql`i.study_uid = st.study_uid` : sql`i.series_uid = se.series_uid`;
    const from = query.level === 'study' ? sql`instances as i inner join series as se on se.series_uid = i.series_uid` : sql`instances as i`;
    const where = eb.and(lower.map((f) => condition(eb, f, query.fuzzy)));
    all.push(sql<SqlBool>`exists (select 1 from ${from} where ${parent} and ${where})`);
  }
  for (const filter of query.attributeFilters) {
    const column = POLICY_COLUMNS[filter.tag];
    if (column === undefined || filter.kind !== 'value') continue;
    const value = filter.wildcard ? like(sql.ref(`pa.${column}`), filter.value) : sql<SqlBool>`${sql.ref(`pa.${column}`)} = ${filter.value}`;
    all.push(sql<SqlBool>`exists (select 1 from study_policy_attributes as pa where pa.study_uid = st.study_uid and ${value})`);
  }
  return all;
}

/** The conditions on an instance (`i`, joined with its series `se`) of the filters below the query level. */
export function instanceConditions(eb: Eb, query: QidoQuery): Expression<SqlBool>[] {
  return lowerFilters(query).map((f) => condition(eb, f, query.fuzzy));
}

/** The condition of one filter on its column. */
export function condition(eb: Eb, filter: QidoFilter, fuzzy: boolean): Expression<SqlBool> {
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

export function like(column: ReturnType<typeof ref>, pattern: string): Expression<SqlBool> {
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
