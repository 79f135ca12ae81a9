/**
 * Templated values of resource conditions: `${subject.name}`, `${subject.role}` and
 * `${subject.<attribute>}` stand for the requesting subject's value, so that one rule says "the
 * studies of the subject's own institution". A subject without the attribute cannot fill the
 * template: the rule is then treated as not applying (allow) or as applying to every study (deny),
 * never as a comparison with an empty or missing value.
 */
import type { Subject } from '../model.js';
import { ATTRIBUTE_KEY_PATTERN } from '../user-rules.js';

/** A value as written, split into literal text and subject references. */
export interface Template {
  /** The value as the file has it, for explanations. */
  text: string;
  /** Literal strings and `{ subject: key }` references, in order. */
  parts: ReadonlyArray<string | { subject: string }>;
}

const REFERENCE = /\$\{([^}]*)\}/g;

/** Parses a value; throws an Error with the reason when a `${...}` is not a subject reference. */
export function parseTemplate(text: string): Template {
  const parts: Array<string | { subject: string }> = [];
  let last = 0;
  for (const match of text.matchAll(REFERENCE)) {
    const expression = match[1].trim();
    const key = expression.startsWith('subject.') ? expression.slice('subject.'.length) : undefined;
    if (key === undefined || !ATTRIBUTE_KEY_PATTERN.test(key)) {
      throw new Error(`'\${${match[1]}}' is not a template: use \${subject.name}, \${subject.role} or \${subject.<attribute>}`);
    }
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ subject: key });
    last = match.index + match[0].length;
  }
  if (text.slice(last).includes('${')) throw new Error(`'${text}' has an unterminated template '\${'`);
  if (last < text.length) parts.push(text.slice(last));
  return { text, parts };
}

/** True when the template refers to the subject. */
export function isTemplated(template: Template): boolean {
  return template.parts.some((part) => typeof part !== 'string');
}

/** The subject's value of `key` (`name`, `role` or an attribute), or undefined when it has none. */
export function subjectValue(subject: Subject, key: string): string | undefined {
  if (key === 'name') return subject.name;
  if (key === 'role') return subject.role;
  const value = Object.hasOwn(subject.attributes, key) ? subject.attributes[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Fills a template for a subject; `{ missing }` names the first attribute the subject lacks. */
export function resolveTemplate(template: Template, subject: Subject): { value: string } | { missing: string } {
  if (template.parts.length === 1 && typeof template.parts[0] === 'string') return { value: template.parts[0] };
  let value = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      value += part;
      continue;
    }
    const filled = subjectValue(subject, part.subject);
    if (filled === undefined) return { missing: part.subject };
    value += filled;
  }
  return { value };
}
