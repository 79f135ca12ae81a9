/**
 * Explanations of decisions (`aegis policy check`): the decision, and for every rule of the
 * policy whether it applied to the request and, if not, why: the action, the subject (which
 * condition), the environment (which condition), a template the subject cannot fill, or the
 * study (which attributes). Built from the same checks the ability is built from.
 */
import { ADMIN_ROLE } from '../user-rules.js';
import type { Action, StudyResource, Subject } from '../model.js';
import type { AccessAbility, Decision, StudyView } from './ability.js';
import { environmentMismatch, subjectMismatch, type RequestFacts } from './applicability.js';
import { resourceMismatches, studyConditions } from './casl.js';
import type { Effect, PolicyDocument, PolicyRule } from './document.js';

/** Where a rule stopped applying; `applies` when it took part in the decision or the view. */
export type RuleStage = 'action' | 'subject' | 'environment' | 'template' | 'resource' | 'applies' | 'admin';

/** One rule's part in a decision. */
export interface RuleTrace {
  id: string;
  effect: Effect;
  /** `access`, `deidentified` (an allow rule with the de-identified view) or `mask`. */
  kind: 'access' | 'deidentified' | 'mask';
  applies: boolean;
  stage: RuleStage;
  reason: string;
}

/** A decision with its reasons. */
export interface Explanation {
  decision: Decision;
  view: StudyView;
  /** Break-glass is in force, or why not. */
  breakGlass: { inForce: boolean; reason?: string };
  /** The request time on the policy's clock (`tue 10:00`), as time windows read it. */
  clock: string;
  rules: RuleTrace[];
}

/** Explains `ability`'s decision on `action` (and `resource`), rule by rule. */
export function explainDecision(document: PolicyDocument, ability: AccessAbility, subject: Subject, facts: RequestFacts, action: Action, resource?: StudyResource): Explanation {
  const admin = subject.role === ADMIN_ROLE;
  return {
    decision: ability.can(action, resource),
    view: ability.view(action, resource),
    breakGlass: facts.breakGlass ? { inForce: true } : { inForce: false, reason: facts.breakGlassWhyNot },
    clock: facts.clock.text,
    rules: document.rules.map((rule) => {
      const kind = rule.kind === 'mask' ? 'mask' : rule.deidentified ? 'deidentified' : 'access';
      const [stage, reason] = admin ? (['admin', 'not evaluated: role admin bypasses the policy'] as const) : traceRule(rule, subject, facts, action, resource);
      return { id: rule.id, effect: rule.effect, kind, applies: stage === 'applies' || (stage === 'template' && rule.effect === 'deny'), stage, reason };
    }),
  };
}

function traceRule(rule: PolicyRule, subject: Subject, facts: RequestFacts, action: Action, resource?: StudyResource): [RuleStage, string] {
  if (!rule.actions.includes(action)) return ['action', `not for ${action} (only ${rule.actions.join(', ')})`];
  const who = subjectMismatch(rule.subjects, subject);
  if (who !== undefined) return ['subject', who];
  const when = environmentMismatch(rule.environment, facts);
  if (when !== undefined) return ['environment', when];
  const resolved = studyConditions(rule.resources, subject);
  if ('missing' in resolved) {
    return ['template', rule.effect === 'allow' ? `subject has no ${resolved.missing}: the rule gives nothing` : `subject has no ${resolved.missing}: the rule applies to every study`];
  }
  const does = rule.kind === 'mask' ? `masks ${rule.fields.join(', ')}` : rule.effect === 'deny' ? 'denies' : rule.deidentified ? 'allows, de-identified' : 'allows';
  if (resource === undefined) return ['applies', rule.resources.length === 0 ? `${does} (every study)` : `${does} (the studies its resources match)`];
  const misses = resourceMismatches(rule.resources, subject, resource);
  return misses.length > 0 ? ['resource', misses.join('; ')] : ['applies', does];
}
