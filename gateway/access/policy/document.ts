/**
 * A policy as the engine holds it once its file has been read and validated (`config/policy.md`
 * describes the file): attribute rules over subject, action, resource and environment (NIST SP
 * 800-162), in file order. Everything here is plain data, frozen after parsing; the decisions are
 * made by `ability.ts` (through CASL) and explained by `explain.ts`.
 */
import type { Action, Purpose, StudyResource } from '../model.js';
import type { Template } from './templates.js';
import type { NetworkRange } from '../../network.js';
import type { TimeWindow } from './time-window.js';

/** A resource attribute a rule may test: a key of {@link StudyResource}. */
export type ResourceAttribute = keyof StudyResource;

/** Operators of resource conditions, as the policy file spells them. */
export const OPERATORS = ['eq', 'ne', 'in', 'notIn', 'gte', 'lte', 'gt', 'lt'] as const;
export type Operator = (typeof OPERATORS)[number];

/** Operators that compare in order: only on `studyDate`, whose YYYYMMDD values order the same in every database. */
export const RANGE_OPERATORS: ReadonlySet<Operator> = new Set(['gte', 'lte', 'gt', 'lt']);

/** One test of a resource attribute: `institution: {ne: X}` is `{ attribute: 'institution', operator: 'ne', value: X }`. */
export interface ResourceTest {
  attribute: ResourceAttribute;
  operator: Operator;
  /** A template for eq, ne and the ranges; a list of templates for in and notIn. */
  value: Template | readonly Template[];
}

/**
 * One test of the subject: `name`, `role`, or a subject attribute, against a list of accepted
 * values (any of them). A subject without the attribute never passes.
 */
export interface SubjectTest {
  key: string;
  values: readonly string[];
}

/** Who a rule (or break-glass) is for: every test must pass; an empty list is `anyone`. */
export type SubjectConditions = readonly SubjectTest[];

/** Conditions on the request's environment; absent ones always hold. */
export interface EnvironmentConditions {
  purposes?: readonly Purpose[];
  networks?: readonly NetworkRange[];
  /** Any one of the windows. */
  windows?: readonly TimeWindow[];
  /** true: only while break-glass is in force; false: only while it is not. */
  breakGlass?: boolean;
}

/** Effects of a rule. */
export type Effect = 'allow' | 'deny';

/**
 * What a rule does:
 * - `access`: allows (or denies) its actions on the studies it matches;
 * - `mask` (a deny rule with `fields`): hides those attributes of the studies it matches, denies nothing;
 * - an allow rule with `view: deidentified` is an access rule whose access shows the de-identified view.
 */
export type RuleKind = 'access' | 'mask';

/** A rule of the policy. */
export interface PolicyRule {
  id: string;
  description?: string;
  effect: Effect;
  kind: RuleKind;
  /** Position in the file (0-based). */
  index: number;
  subjects: SubjectConditions;
  actions: readonly Action[];
  /** All must hold; empty: every study. */
  resources: readonly ResourceTest[];
  environment: EnvironmentConditions;
  /** Allow rules: the access they give shows the Annex E de-identified view. */
  deidentified: boolean;
  /** Mask rules: the attributes hidden, as tags (8 upper-case hex digits). */
  fields: readonly string[];
}

/** How a denied study answers: 404 (existence not revealed, the default) or 403. */
export type DeniedAs = 'not-found' | 'forbidden';

/** Who may declare an emergency, and for how long at most. */
export interface BreakGlassPolicy {
  subjects: SubjectConditions;
  maxMinutes: number;
}

/** A validated policy file. */
export interface PolicyDocument {
  version: 1;
  denied: DeniedAs;
  /** IANA time zone of the time windows; undefined: the gateway's local time. */
  timeZone?: string;
  breakGlass?: BreakGlassPolicy;
  rules: readonly PolicyRule[];
}
