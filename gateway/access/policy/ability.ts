/**
 * What one subject may do in one environment: built per request from the rules that apply to the
 * subject and the environment, with resource conditions (templates filled) handed to CASL. Deny
 * rules win: they are given to CASL after every allow rule, and CASL lets later inverted rules
 * override. Within each group the first rule of the file has the highest priority, so a decision
 * names the first deny rule that matches, else the first allow rule that matches.
 *
 * The `admin` role is built in and bypasses the policy: everything allowed, nothing masked.
 */
import { GatewayError } from '../../errors.js';
import type { Action, StudyResource, Subject } from '../model.js';
import { breakGlassRefusal, failedEnvironmentCondition, failedSubjectTest, type RequestFacts } from './applicability.js';
import { createStudyAbility, STUDY, studyConditions, type StudyAbility, type StudyRawRule } from './casl.js';
import type { DeniedAs, PolicyDocument, PolicyRule } from './document.js';
import { studyFilterOf, type StudyFilter } from './sql-filter.js';

/** The rule id decisions of the admin role name. */
export const ADMIN_RULE = 'builtin:admin';

/** A decision, with the rule that made it. */
export interface Decision {
  allowed: boolean;
  /** Id of the deciding rule; absent when no rule allows. */
  rule?: string;
  reason: string;
  /** The deciding rule is a break-glass rule: emergency access, to be flagged in the audit trail. */
  breakGlass?: boolean;
}

/** What a subject may see of a study. */
export interface StudyView {
  /** Apply the Annex E Basic Application Level Confidentiality Profile. */
  deidentify: boolean;
  /** Tags (8 upper-case hex digits) to remove, sorted. */
  maskedFields: string[];
}

/** The access of one subject in one environment. */
export interface AccessAbility {
  /** Whether `action` is allowed on the study; without a study: on some study (or, for `admin`, at all). */
  can(action: Action, resource?: StudyResource): Decision;
  /** The view of a study the action shows; without a study, the strictest view over all studies. */
  view(action: Action, resource?: StudyResource): StudyView;
  /** The studies the action may touch, for the catalog query. */
  studyFilter(action: Action): StudyFilter;
  /** Whether the policy lets this subject declare an emergency (break-glass). */
  mayBreakGlass(): boolean;
  /** Break-glass is in force for this request (a grant, purpose ETREAT, a subject the policy allows). */
  readonly breakGlass: boolean;
  /** How a denied study answers: `not-found` (404, the default) or `forbidden` (403). */
  readonly denied: DeniedAs;
  /** The error for a denied study: NOT_FOUND or FORBIDDEN as the policy says; give the message a real 404 would have. */
  deniedError(message: string): GatewayError;
}

const FULL_VIEW: StudyView = Object.freeze({ deidentify: false, maskedFields: Object.freeze([]) as unknown as string[] });

abstract class BaseAbility {
  constructor(
    readonly denied: DeniedAs,
    readonly breakGlass: boolean,
  ) {}

  deniedError(message: string): GatewayError {
    return new GatewayError(this.denied === 'forbidden' ? 'FORBIDDEN' : 'NOT_FOUND', message);
  }
}

/** The ability of an `admin` subject. Break-glass follows the policy's `breakGlass.subjects`, as for anyone. */
export class AdminAbility extends BaseAbility implements AccessAbility {
  constructor(
    denied: DeniedAs,
    breakGlass: boolean,
    private readonly breakGlassAllowed: boolean,
  ) {
    super(denied, breakGlass);
  }

  can(): Decision {
    return { allowed: true, rule: ADMIN_RULE, reason: 'role admin may do everything' };
  }

  view(): StudyView {
    return FULL_VIEW;
  }

  studyFilter(): StudyFilter {
    return { kind: 'all' };
  }

  mayBreakGlass(): boolean {
    return this.breakGlassAllowed;
  }
}

/** The rules of the document that apply to the subject and environment of a request, in file order. */
export function applicableRules(document: PolicyDocument, subject: Subject, facts: RequestFacts): PolicyRule[] {
  return document.rules.filter((rule) => failedSubjectTest(rule.subjects, subject) === undefined && failedEnvironmentCondition(rule.environment, facts) === undefined);
}

/** The ability of a subject other than admin, from the rules that apply to it. */
export class PolicyAbility extends BaseAbility implements AccessAbility {
  private readonly access: StudyAbility;
  private readonly views: StudyAbility;
  private readonly rules = new Map<string, PolicyRule>();
  private readonly filters = new Map<Action, StudyFilter>();

  constructor(
    private readonly document: PolicyDocument,
    private readonly subject: Subject,
    rules: readonly PolicyRule[],
    breakGlass: boolean,
  ) {
    super(document.denied, breakGlass);
    const allows: StudyRawRule[] = [];
    const denies: StudyRawRule[] = [];
    const views: StudyRawRule[] = [];
    // CASL gives the last rule the highest priority: walk the file backwards.
    for (const rule of [...rules].reverse()) {
      this.rules.set(rule.id, rule);
      const resolved = studyConditions(rule.resources, subject);
      // A template the subject cannot fill: an allow rule gives nothing, a deny rule denies everything.
      if ('missing' in resolved && rule.effect === 'allow') continue;
      const raw: StudyRawRule = { action: [...rule.actions], subject: STUDY, reason: rule.id, ...('conditions' in resolved && resolved.conditions && { conditions: resolved.conditions }) };
      if (rule.kind === 'mask' || rule.deidentified) views.push(raw);
      if (rule.kind === 'access' && rule.effect === 'allow') allows.push(raw);
      if (rule.kind === 'access' && rule.effect === 'deny') denies.push({ ...raw, inverted: true });
    }
    this.access = createStudyAbility([...allows, ...denies]);
    this.views = createStudyAbility(views);
  }

  can(action: Action, resource?: StudyResource): Decision {
    const rule = this.access.relevantRuleFor(action, resource ?? STUDY);
    const target = resource ? 'this study' : 'any study';
    if (rule === null) return { allowed: false, reason: `no rule allows ${action} on ${target} for this subject and environment` };
    const id = rule.reason!;
    if (rule.inverted) return { allowed: false, rule: id, reason: `denied by rule '${id}'` };
    const breakGlass = this.rules.get(id)?.environment.breakGlass === true;
    const some = resource === undefined && rule.conditions !== undefined ? ' (on the studies it matches)' : '';
    return { allowed: true, rule: id, reason: `allowed by rule '${id}'${some}${breakGlass ? ' under break-glass' : ''}`, ...(breakGlass && { breakGlass }) };
  }

  view(action: Action, resource?: StudyResource): StudyView {
    let deidentify = false;
    const masked = new Set<string>();
    for (const rule of this.views.rulesFor(action, STUDY)) {
      if (!rule.matchesConditions(resource)) continue;
      const policyRule = this.rules.get(rule.reason!)!;
      if (policyRule.deidentified) deidentify = true;
      for (const tag of policyRule.fields) masked.add(tag);
    }
    return deidentify || masked.size > 0 ? { deidentify, maskedFields: [...masked].sort() } : FULL_VIEW;
  }

  studyFilter(action: Action): StudyFilter {
    let filter = this.filters.get(action);
    if (filter === undefined) this.filters.set(action, (filter = studyFilterOf(this.access, action)));
    return filter;
  }

  mayBreakGlass(): boolean {
    return breakGlassRefusal(this.document, this.subject) === undefined;
  }
}
