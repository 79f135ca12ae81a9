/**
 * The access policy of the gateway: attribute-based access control (NIST SP 800-162)
 * on `@casl/ability`, from a YAML file a security officer can read (`config/policy.md`). Per
 * request, {@link Policy.abilityFor} builds what the subject may do in the request's environment;
 * {@link Policy.explain} says why, rule by rule. Abilities are cached by subject and by the set of
 * rules that apply, so a request usually costs the subject and environment checks only.
 */
import { readFileSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Action, Environment, StudyResource, Subject } from '../model.js';
import { ADMIN_ROLE } from '../user-rules.js';
import { AdminAbility, applicableRules, PolicyAbility, type AccessAbility } from './ability.js';
import { breakGlassRefusal, requestFacts } from './applicability.js';
import { DEFAULT_POLICY_TEXT } from './default-policy.js';
import type { BreakGlassPolicy, DeniedAs, PolicyDocument } from './document.js';
import { explainDecision, type Explanation } from './explain.js';
import { parsePolicyDocument, PolicyError } from './policy-file.js';
import { PolicyClock } from './time-window.js';

/** Most abilities kept per policy. */
const ABILITY_CACHE_SIZE = 1000;

/** A validated, frozen policy and the abilities built from it. */
export class Policy {
  private readonly clock: PolicyClock;
  private readonly abilities = new LRUCache<string, AccessAbility>({ max: ABILITY_CACHE_SIZE });

  /** `source` names the policy in messages (its path). */
  constructor(
    readonly document: PolicyDocument,
    readonly source: string,
  ) {
    this.clock = new PolicyClock(document.timeZone);
  }

  /** How a denied study answers: `not-found` (404) or `forbidden` (403). */
  get denied(): DeniedAs {
    return this.document.denied;
  }

  /** Who may declare an emergency and for how long at most; undefined: nobody. */
  get breakGlass(): BreakGlassPolicy | undefined {
    return this.document.breakGlass;
  }

  /** Whether the policy lets the subject declare an emergency (for granting break-glass). */
  mayBreakGlass(subject: Subject): boolean {
    return breakGlassRefusal(this.document, subject) === undefined;
  }

  /** What `subject` may do in `env`: build it once per request. */
  abilityFor(subject: Subject, env: Environment): AccessAbility {
    const facts = requestFacts(this.document, this.clock, subject, env);
    const rules = subject.role === ADMIN_ROLE ? [] : applicableRules(this.document, subject, facts);
    const key = `${subject.name}\0${subject.role}\0${JSON.stringify(subject.attributes)}\0${facts.breakGlass}\0${rules.map((r) => r.index).join(',')}`;
    let ability = this.abilities.get(key);
    if (ability === undefined) {
      ability = subject.role === ADMIN_ROLE ? new AdminAbility(this.document.denied, facts.breakGlass, this.mayBreakGlass(subject)) : new PolicyAbility(this.document, subject, rules, facts.breakGlass);
      this.abilities.set(key, ability);
    }
    return ability;
  }

  /** The decision on `action` (on `resource`, when given) with every rule's part in it. */
  explain(subject: Subject, env: Environment, action: Action, resource?: StudyResource): Explanation {
    const facts = requestFacts(this.document, this.clock, subject, env);
    return explainDecision(this.document, this.abilityFor(subject, env), subject, facts, action, resource);
  }
}

/** Parses the text of a policy file; throws POLICY_INVALID ({@link PolicyError}) listing every problem. */
export function parsePolicy(text: string, source = '(inline policy)'): Policy {
  return new Policy(parsePolicyDocument(text, source), source);
}

/** Reads and parses a policy file; throws POLICY_INVALID ({@link PolicyError}). */
export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyError(file, [`cannot read the policy file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parsePolicy(text, file);
}

/** The default policy, `config/policy.yaml` (embedded). */
export const DEFAULT_POLICY: Policy = parsePolicy(DEFAULT_POLICY_TEXT, 'the default policy (config/policy.yaml)');

export { PolicyError } from './policy-file.js';
export type { AccessAbility, Decision, StudyView } from './ability.js';
export type { StudyFilter } from './sql-filter.js';
export type { Explanation, RuleTrace } from './explain.js';
