/**
 * Whether a rule applies to a request before any study is looked at: its subject conditions
 * against the subject, its environment conditions against the environment (purpose of use,
 * client network, time window, break-glass). Both are known once per request, so the ability is
 * built from the rules that apply. Each check answers undefined (holds) or why it does not hold,
 * in words from the same checks that decide.
 */
import type { Environment, Purpose, Subject } from '../model.js';
import type { EnvironmentConditions, PolicyDocument, SubjectConditions, SubjectTest } from './document.js';
import { inNetworks, parseClientAddress } from '../../network.js';
import { subjectValue } from './templates.js';
import { inTimeWindow, type LocalClock, type PolicyClock } from './time-window.js';

/** What the environment checks read, worked out once per request. */
export interface RequestFacts {
  purpose: Purpose;
  clientAddress: string;
  client: ReturnType<typeof parseClientAddress>;
  clock: LocalClock;
  /** Break-glass is in force for this request. */
  breakGlass: boolean;
  /** Why break-glass is not in force (undefined when it is). */
  breakGlassWhyNot?: string;
}

/** The first subject test the subject fails, or undefined when it passes them all. */
export function failedSubjectTest(conditions: SubjectConditions, subject: Subject): SubjectTest | undefined {
  for (const test of conditions) {
    const value = subjectValue(subject, test.key);
    if (value === undefined || !test.values.includes(value)) return test;
  }
  return undefined;
}

/** Why the subject fails the conditions, or undefined when it passes them all. */
export function subjectMismatch(conditions: SubjectConditions, subject: Subject): string | undefined {
  const test = failedSubjectTest(conditions, subject);
  if (test === undefined) return undefined;
  const value = subjectValue(subject, test.key);
  return value === undefined ? `has no ${test.key} (wants ${test.values.join(', ')})` : `${test.key} is '${value}' (wants ${test.values.join(', ')})`;
}

/**
 * The facts of a request. Break-glass is in force when the environment carries a grant that has not
 * expired, the request declares purpose ETREAT, and the policy lets the subject break the glass.
 */
export function requestFacts(document: PolicyDocument, clock: PolicyClock, subject: Subject, env: Environment): RequestFacts {
  const facts: RequestFacts = {
    purpose: env.purpose,
    clientAddress: env.clientAddress,
    client: parseClientAddress(env.clientAddress),
    clock: clock.read(env.time),
    breakGlass: false,
  };
  const grant = env.breakGlass;
  if (grant === undefined) facts.breakGlassWhyNot = 'no break-glass grant';
  else if (grant.expiresAt.getTime() <= env.time.getTime()) facts.breakGlassWhyNot = `the break-glass grant expired at ${grant.expiresAt.toISOString()}`;
  else if (env.purpose !== 'ETREAT') facts.breakGlassWhyNot = `break-glass needs purpose of use ETREAT (the request declares ${env.purpose})`;
  else {
    facts.breakGlassWhyNot = breakGlassRefusal(document, subject);
    facts.breakGlass = facts.breakGlassWhyNot === undefined;
  }
  return facts;
}

/** Why the policy does not let the subject declare an emergency, or undefined when it does. */
export function breakGlassRefusal(document: PolicyDocument, subject: Subject): string | undefined {
  if (document.breakGlass === undefined) return 'the policy lets nobody break the glass';
  const why = subjectMismatch(document.breakGlass.subjects, subject);
  return why && `the policy does not let this subject break the glass (${why})`;
}

/** The first environment condition the request fails, or undefined when it meets them all. */
export function failedEnvironmentCondition(conditions: EnvironmentConditions, facts: RequestFacts): keyof EnvironmentConditions | undefined {
  if (conditions.purposes && !conditions.purposes.includes(facts.purpose)) return 'purposes';
  if (conditions.networks && !inNetworks(facts.client, conditions.networks)) return 'networks';
  if (conditions.windows && !conditions.windows.some((w) => inTimeWindow(w, facts.clock))) return 'windows';
  if (conditions.breakGlass !== undefined && conditions.breakGlass !== facts.breakGlass) return 'breakGlass';
  return undefined;
}

/** Why the environment fails the conditions, or undefined when it meets them all. */
export function environmentMismatch(conditions: EnvironmentConditions, facts: RequestFacts): string | undefined {
  switch (failedEnvironmentCondition(conditions, facts)) {
    case undefined:
      return undefined;
    case 'purposes':
      return `purpose of use is ${facts.purpose} (wants ${conditions.purposes!.join(', ')})`;
    case 'networks':
      return `client ${facts.clientAddress} is outside ${conditions.networks!.map((n) => n.text).join(', ')}`;
    case 'windows':
      return `time ${facts.clock.text} is outside ${conditions.windows!.map((w) => w.text).join('; ')}`;
    case 'breakGlass':
      return facts.breakGlass ? 'break-glass is in force (the rule is for ordinary access)' : `break-glass is not in force: ${facts.breakGlassWhyNot}`;
  }
}
