/**
 * Resource conditions in CASL's terms: a rule's tests on study attributes, its templates filled for
 * the subject, become a MongoDB-style query that `@casl/ability` matches against a
 * {@link StudyResource} and that `rulesToAST` hands to the SQL translation. The matcher differs from
 * CASL's default in one way: an ordering comparison (gte, lte, gt, lt) never holds for a missing
 * value, as in SQL (CASL's default places a missing date before every date).
 */
import { buildMongoQueryMatcher, createMongoAbility, type MongoAbility, type MongoQuery, type RawRuleFrom } from '@casl/ability';
import type { Action, StudyResource, Subject } from '../model.js';
import type { Operator, ResourceTest } from './document.js';
import { isTemplated, resolveTemplate, type Template } from './templates.js';

/** The one subject type of the policy's abilities. */
export const STUDY = 'Study';

/** An ability over studies. */
export type StudyAbility = MongoAbility<[Action, typeof STUDY | StudyResource]>;

/** A rule as CASL takes it; `reason` carries the policy rule's id. */
export type StudyRawRule = RawRuleFrom<[Action, typeof STUDY], MongoQuery>;

const MONGO_OPERATORS: Record<Operator, string> = {
  eq: '$eq',
  ne: '$ne',
  in: '$in',
  notIn: '$nin',
  gte: '$gte',
  lte: '$lte',
  gt: '$gt',
  lt: '$lt',
};

type FieldNode = { field: string; value: string };
type Compare = (value: string, operand: string) => boolean;

/** An ordering interpreter that fails for anything but a string (null, missing). */
function ordering(compare: Compare) {
  return (node: FieldNode, object: Record<string, unknown>) => {
    const value = object[node.field];
    return typeof value === 'string' && compare(value, node.value);
  };
}

const studyMatcher = buildMongoQueryMatcher({}, {
  gte: ordering((a, b) => a >= b),
  gt: ordering((a, b) => a > b),
  lte: ordering((a, b) => a <= b),
  lt: ordering((a, b) => a < b),
} as never);

/** An ability over studies from CASL rules (highest priority last, as CASL orders them). */
export function createStudyAbility(rules: StudyRawRule[]): StudyAbility {
  return createMongoAbility<StudyAbility>(rules as never, {
    conditionsMatcher: studyMatcher,
    detectSubjectType: () => STUDY,
  });
}

/**
 * The tests of a rule as a CASL query for `subject`: undefined conditions when there are no tests
 * (every study), `{ missing }` when a template names an attribute the subject lacks.
 */
export function studyConditions(tests: readonly ResourceTest[], subject: Subject): { conditions?: MongoQuery } | { missing: string } {
  if (tests.length === 0) return {};
  const query: Record<string, Record<string, string | string[]>> = {};
  for (const test of tests) {
    const resolved = resolveValue(test.value, subject);
    if ('missing' in resolved) return resolved;
    (query[test.attribute] ??= {})[MONGO_OPERATORS[test.operator]] = resolved.value;
  }
  return { conditions: query as MongoQuery };
}

function resolveValue(value: Template | readonly Template[], subject: Subject): { value: string | string[] } | { missing: string } {
  if (!Array.isArray(value)) return resolveTemplate(value as Template, subject);
  const values: string[] = [];
  for (const template of value as readonly Template[]) {
    const resolved = resolveTemplate(template, subject);
    if ('missing' in resolved) return resolved;
    values.push(resolved.value);
  }
  return { value: values };
}

/**
 * The tests a study fails, in words (`institution is "B" (wants eq ${subject.institution} = "A")`);
 * empty when it passes them all. Each test is matched by the same matcher as the ability's.
 */
export function resourceMismatches(tests: readonly ResourceTest[], subject: Subject, resource: StudyResource): string[] {
  const failures: string[] = [];
  for (const test of tests) {
    const resolved = studyConditions([test], subject);
    if (!('conditions' in resolved) || resolved.conditions === undefined) continue;
    if (studyMatcher(resolved.conditions)(resource as never)) continue;
    const wanted = (resolved.conditions as Record<string, Record<string, unknown>>)[test.attribute][MONGO_OPERATORS[test.operator]];
    const templates = (Array.isArray(test.value) ? test.value : [test.value]) as Template[];
    const filled = templates.some(isTemplated) ? ` = ${JSON.stringify(wanted)}` : '';
    const written = templates.map((t) => t.text).join(', ');
    failures.push(`${test.attribute} is ${JSON.stringify(resource[test.attribute])} (wants ${test.operator} ${written}${filled})`);
  }
  return failures;
}
