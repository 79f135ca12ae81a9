/**
 * The studies an ability permits, as SQL: CASL's `rulesToAST` (the allow rules, each bounded by
 * every deny rule, which all outrank it) translated to a Kysely condition on the `studies` table,
 * so that QIDO's limit/offset page over permitted studies only and counts say nothing of the
 * others. A study is judged by each combination of attributes among its instances
 * (`study_policy_attributes`, see `study-resource.ts`): it is permitted when it has one and every
 * one of them satisfies the condition (`EXISTS (...) AND NOT EXISTS (... AND NOT condition)`).
 * Modality is a property of series: `EXISTS (select 1 from series where study_uid = ... and ...)`.
 *
 * The translation is two-valued, as CASL's matching is: a comparison with a NULL column is false
 * for eq, in and the ranges and true for ne and notIn (`col IS NULL OR col <> v`), so that NOT
 * (from deny rules) never turns an unknown into a match or a miss. A property test checks that the
 * SQL selects exactly the studies `can()` allows.
 */
import { rulesToAST } from '@casl/ability/extra';
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { STUDY_RESOURCE_COLUMNS, type Action } from '../model.js';
import { STUDY, type StudyAbility } from './casl.js';

/** An expression builder of any query that has the `studies` table (under its name or an alias). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- works in any query over studies
export type StudiesExpressionBuilder = ExpressionBuilder<any, any>;

/**
 * Which studies an action may touch: all, none, or those a condition selects. `studies` is the name
 * or alias of the studies table in the query (default `studies`; QIDO's is `st`).
 */
export type StudyFilter = { kind: 'all' } | { kind: 'none' } | { kind: 'where'; expression: (eb: StudiesExpressionBuilder, studies?: string) => Expression<SqlBool> };

/** A node of CASL's condition tree (`@ucast` Condition). */
type Node = { operator: string; value: unknown; field?: string };

const ALL: StudyFilter = Object.freeze({ kind: 'all' });
const NONE: StudyFilter = Object.freeze({ kind: 'none' });

/** The filter of `action` for an ability. */
export function studyFilterOf(ability: StudyAbility, action: Action): StudyFilter {
  const ast = rulesToAST(ability, action, STUDY) as Node | null;
  if (ast === null) return NONE;
  if (ast.operator === 'and' && Array.isArray(ast.value) && ast.value.length === 0) return ALL;
  return { kind: 'where', expression: (eb, studies = 'studies') => everyCombination(eb, ast, studies) };
}

/** The alias of `study_policy_attributes` in the filter's subqueries. */
const COMBINATION = 'policy_attributes';

/** The study has attribute combinations, and each satisfies the condition `ast`. */
function everyCombination(eb: StudiesExpressionBuilder, ast: Node, studies: string): Expression<SqlBool> {
  const ofStudy = sql`${sql.ref(`${COMBINATION}.study_uid`)} = ${sql.ref(`${studies}.study_uid`)}`;
  const table = sql`study_policy_attributes as ${sql.raw(COMBINATION)}`;
  return sql<SqlBool>`(exists (select 1 from ${table} where ${ofStudy}) and not exists (select 1 from ${table} where ${ofStudy} and not (${translate(eb, ast, COMBINATION)})))`;
}

function translate(eb: StudiesExpressionBuilder, node: Node, studies: string): Expression<SqlBool> {
  switch (node.operator) {
    case 'and':
      return (node.value as Node[]).length === 0 ? sql<SqlBool>`1 = 1` : eb.and((node.value as Node[]).map((n) => translate(eb, n, studies)));
    case 'or':
      return (node.value as Node[]).length === 0 ? sql<SqlBool>`1 = 0` : eb.or((node.value as Node[]).map((n) => translate(eb, n, studies)));
    case 'not':
      return eb.not(translate(eb, (node.value as Node[])[0], studies));
    default:
      return node.field === 'modality' ? modality(node, studies) : comparison(eb, node, studies);
  }
}

const SQL_OPERATORS = { eq: '=', ne: '<>', in: 'in', nin: 'not in', gte: '>=', lte: '<=', gt: '>', lt: '<' } as const;

/** A column compared with a value, NULL-safe (see the module header). */
function comparison(eb: StudiesExpressionBuilder, node: Node, studies: string): Expression<SqlBool> {
  const column = STUDY_RESOURCE_COLUMNS[node.field as keyof typeof STUDY_RESOURCE_COLUMNS];
  const operator = SQL_OPERATORS[node.operator as keyof typeof SQL_OPERATORS];
  if (column === undefined || operator === undefined) throw new Error(`policy SQL: cannot translate ${node.operator} on ${String(node.field)}`);
  const ref = sql.ref(`${studies}.${column}`);
  const test = eb(ref, operator, node.value as string | string[]);
  return node.operator === 'ne' || node.operator === 'nin' ? eb.or([eb(ref, 'is', null), test]) : eb.and([eb(ref, 'is not', null), test]);
}

/** ModalitiesInStudy conditions: whether some series of the study has (one of) the modalities. */
function modality(node: Node, studies: string): Expression<SqlBool> {
  const values = (Array.isArray(node.value) ? node.value : [node.value]) as string[];
  const some = sql<SqlBool>`exists (select 1 from series as policy_series where policy_series.study_uid = ${sql.ref(`${studies}.study_uid`)} and policy_series.modality in (${sql.join(values)}))`;
  switch (node.operator) {
    case 'eq':
    case 'in':
      return some;
    case 'ne':
    case 'nin':
      return sql<SqlBool>`not ${some}`;
    default:
      throw new Error(`policy SQL: cannot translate ${node.operator} on modality`);
  }
}
