/**
 * Reads a policy file (YAML, `config/policy.md`): validated with zod, every problem reported with
 * its path and line, then turned into a frozen {@link PolicyDocument}. Unknown keys, actions,
 * resource attributes, operators, purposes, days, malformed CIDRs, times, time zones, templates
 * and DICOM keywords are all problems; nothing is guessed.
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { normalizeTag, tagForKeyword } from '../../dicom/dictionary.js';
import { ACTIONS, PURPOSES, STUDY_RESOURCE_COLUMNS } from '../model.js';
import { ATTRIBUTE_KEY_PATTERN } from '../user-rules.js';
import { OPERATORS, RANGE_OPERATORS, type Operator, type PolicyDocument, type PolicyRule, type ResourceAttribute, type ResourceTest, type SubjectTest } from './document.js';
import { parseNetworkRange } from '../../network.js';
import { isTemplated, parseTemplate, type Template } from './templates.js';
import { checkTimeZone, parseTimeWindow } from './time-window.js';

/** The policy file is invalid (POLICY_INVALID); `problems` lists every problem. */
export class PolicyError extends GatewayError {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super('POLICY_INVALID', `invalid policy ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Ctx = z.core.$RefinementCtx;
type Path = PropertyKey[];

function problem(ctx: Ctx, message: string, path: Path = []): void {
  ctx.addIssue({ code: 'custom', message, path });
}

/** Runs `parse` on a value, turning a thrown Error into an issue at `path`. */
function attempt<T>(ctx: Ctx, path: Path, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    problem(ctx, (error as Error).message, path);
    return undefined;
  }
}

/** A value or a non-empty list of values, always handed on as a list; item issues keep their index. */
function oneOrMany<T extends z.ZodType>(item: T) {
  return z.unknown().transform((value, ctx) => {
    const list: unknown[] = Array.isArray(value) ? value : [value];
    if (list.length === 0) problem(ctx, 'must not be an empty list');
    const out: Array<z.output<T>> = [];
    list.forEach((entry, i) => {
      const parsed = item.safeParse(entry);
      if (parsed.success) out.push(parsed.data);
      else for (const issue of parsed.error.issues) problem(ctx, issue.message, Array.isArray(value) ? [i, ...issue.path] : issue.path);
    });
    return out;
  });
}

/** A text value; YAML numbers (an unquoted 20240101) are read as their text. */
const Value = z.union([z.string().min(1), z.number().finite()], { error: 'must be a text (or number) value' }).transform(String);

/** Who: `anyone`, or a map of `name`, `role` or attribute keys to a value or a list of values. */
const Subjects = z.unknown().transform((value, ctx): SubjectTest[] => {
  if (value === 'anyone') return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problem(ctx, "must be 'anyone' or a map of subject conditions (role, name or an attribute: a value or a list)");
    return [];
  }
  const entries = Object.entries(value);
  if (entries.length === 0) problem(ctx, "an empty map: write 'anyone' to mean every subject");
  const tests: SubjectTest[] = [];
  for (const [key, values] of entries) {
    if (!ATTRIBUTE_KEY_PATTERN.test(key)) problem(ctx, `'${key}' is not a subject attribute (name, role, or a lower-case attribute key)`, [key]);
    const parsed = oneOrMany(Value).safeParse(values);
    if (parsed.success) tests.push({ key, values: parsed.data });
    else for (const issue of parsed.error.issues) problem(ctx, issue.message, [key, ...issue.path]);
  }
  return tests;
});

const RESOURCE_ATTRIBUTES = Object.keys(STUDY_RESOURCE_COLUMNS) as ResourceAttribute[];
const LIST_OPERATORS: ReadonlySet<Operator> = new Set(['in', 'notIn']);

/** Resource conditions: attribute -> value (eq), list (in) or operators. */
const Resources = z.record(z.string(), z.unknown()).transform((value, ctx): ResourceTest[] => {
  const tests: ResourceTest[] = [];
  for (const [attribute, condition] of Object.entries(value)) {
    if (!(RESOURCE_ATTRIBUTES as string[]).includes(attribute)) {
      problem(ctx, `'${attribute}' is not a resource attribute (${RESOURCE_ATTRIBUTES.join(', ')})`, [attribute]);
      continue;
    }
    tests.push(...resourceTests(ctx, attribute as ResourceAttribute, condition));
  }
  return tests;
});

function resourceTests(ctx: Ctx, attribute: ResourceAttribute, condition: unknown): ResourceTest[] {
  const operators: Array<[Operator, unknown, Path]> =
    condition !== null && typeof condition === 'object' && !Array.isArray(condition) ? Object.entries(condition).map(([op, v]) => [op as Operator, v, [attribute, op]]) : [[Array.isArray(condition) ? 'in' : 'eq', condition, [attribute]]];
  if (operators.length === 0) problem(ctx, `no condition: give a value, a list, or operators (${OPERATORS.join(', ')})`, [attribute]);
  const tests: ResourceTest[] = [];
  for (const [operator, operand, path] of operators) {
    if (!OPERATORS.includes(operator)) {
      problem(ctx, `'${operator}' is not an operator (${OPERATORS.join(', ')})`, path);
      continue;
    }
    if (RANGE_OPERATORS.has(operator) && attribute !== 'studyDate') {
      problem(ctx, `'${operator}' compares in order: only studyDate takes it (use eq, ne, in, notIn)`, path);
      continue;
    }
    const parsed = (LIST_OPERATORS.has(operator) ? oneOrMany(Value) : Value).safeParse(operand);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problem(ctx, issue.message, [...path, ...issue.path]);
      continue;
    }
    const texts = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    const templates = texts.map((text, i) => attempt(ctx, Array.isArray(operand) ? [...path, i] : path, () => parseTemplate(text)));
    if (templates.some((t) => t === undefined)) continue;
    for (const [i, template] of (templates as Template[]).entries()) {
      if (attribute === 'studyDate' && !isTemplated(template) && !/^\d{8}$/.test(template.text)) {
        problem(ctx, `'${template.text}' is not a date YYYYMMDD`, Array.isArray(operand) ? [...path, i] : path);
      }
    }
    tests.push({ attribute, operator, value: LIST_OPERATORS.has(operator) ? (templates as Template[]) : (templates[0] as Template) });
  }
  return tests;
}

const Window = z.strictObject({ from: z.string(), to: z.string(), days: oneOrMany(z.string()).optional() }).transform((window, ctx) => attempt(ctx, [], () => parseTimeWindow(window)) ?? z.NEVER);

const Environment = z.strictObject({
  purpose: oneOrMany(z.enum(PURPOSES)).optional(),
  network: oneOrMany(z.string().transform((text, ctx) => attempt(ctx, [], () => parseNetworkRange(text)) ?? z.NEVER)).optional(),
  time: oneOrMany(Window).optional(),
  breakGlass: z.boolean().optional(),
});

/** A field to mask: a DICOM keyword (PatientBirthDate) or a tag (00100030, (0010,0030)). */
const Field = z.union([z.string(), z.number()]).transform((text, ctx) => {
  if (typeof text === 'number') {
    problem(ctx, `${text} is a number to YAML: write tags in quotes ("00100030") or use the keyword`);
    return z.NEVER;
  }
  const tag = normalizeTag(text) ?? tagForKeyword(text);
  if (tag === undefined) problem(ctx, `'${text}' is not a DICOM keyword or tag`);
  return tag ?? z.NEVER;
});

const Rule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'rule ids are lower-case letters, digits, ".", "_" and "-" (at most 64)'),
  description: z.string().optional(),
  effect: z.enum(['allow', 'deny']).default('allow'),
  subjects: Subjects,
  actions: oneOrMany(z.enum(ACTIONS)),
  resources: Resources.optional(),
  environment: Environment.optional(),
  view: z.literal('deidentified').optional(),
  fields: oneOrMany(Field).optional(),
});

const PolicySchema = z.strictObject({
  version: z.literal(1, 'the only policy version is 1'),
  denied: z.enum(['not-found', 'forbidden']).default('not-found'),
  timeZone: z
    .string()
    .transform((zone, ctx) => attempt(ctx, [], () => (checkTimeZone(zone), zone)) ?? z.NEVER)
    .optional(),
  breakGlass: z
    .strictObject({
      subjects: Subjects,
      maxMinutes: z
        .number()
        .int()
        .min(1)
        .max(24 * 60)
        .default(60),
    })
    .optional(),
  rules: z.array(Rule).default([]),
});

/**
 * Parses and validates the text of a policy file. `source` names it in messages (a path).
 * Throws {@link PolicyError} listing every problem.
 */
export function parsePolicyDocument(text: string, source: string): PolicyDocument {
  const lines = new LineCounter();
  const yaml = parseDocument(text, { lineCounter: lines, prettyErrors: true, logLevel: 'error' });
  if (yaml.errors.length > 0)
    throw new PolicyError(
      source,
      yaml.errors.map((e) => e.message.split('\n')[0]),
    );
  const raw: unknown = plainValue(yaml, source) ?? {};
  const problems: Array<{ path: Path; message: string }> = [];
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push({ path: issue.path as Path, message: issue.message });
  problems.push(...crossCheck(raw));
  if (problems.length > 0 || !parsed.success) {
    const located = problems.map(({ path, message }) => ({ ...where(yaml, lines, path), message }));
    located.sort((a, b) => a.line - b.line);
    throw new PolicyError(
      source,
      located.map(({ name, line, message }) => `${name}${line > 0 ? ` (line ${line})` : ''}: ${message}`),
    );
  }
  const { rules, breakGlass, ...top } = parsed.data;
  const document: PolicyDocument = {
    ...top,
    ...(breakGlass && { breakGlass }),
    rules: rules.map((rule, index): PolicyRule => ({
      id: rule.id,
      ...(rule.description !== undefined && { description: rule.description }),
      effect: rule.effect,
      kind: rule.effect === 'deny' && rule.fields ? 'mask' : 'access',
      index,
      subjects: rule.subjects,
      actions: [...new Set(rule.actions)],
      resources: rule.resources ?? [],
      environment: {
        ...(rule.environment?.purpose && { purposes: rule.environment.purpose }),
        ...(rule.environment?.network && { networks: rule.environment.network }),
        ...(rule.environment?.time && { windows: rule.environment.time }),
        ...(rule.environment?.breakGlass !== undefined && { breakGlass: rule.environment.breakGlass }),
      },
      deidentified: rule.view === 'deidentified',
      fields: [...new Set(rule.fields ?? [])],
    })),
  };
  return deepFreeze(document);
}

/**
 * The document as plain values. The yaml library throws a ReferenceError for an alias whose
 * anchor is missing and for aliases that would expand beyond its limit (a billion laughs): both
 * are problems of the file, reported like the others.
 */
function plainValue(yaml: Document, source: string): unknown {
  try {
    return yaml.toJS();
  } catch (error) {
    throw new PolicyError(source, [(error as Error).message]);
  }
}

/** Checks across keys, on the raw input so that they are reported along with the field problems. */
function crossCheck(raw: unknown): Array<{ path: Path; message: string }> {
  const problems: Array<{ path: Path; message: string }> = [];
  const top = (raw ?? {}) as { breakGlass?: unknown; rules?: unknown };
  if (!Array.isArray(top.rules)) return problems;
  const ids = new Map<unknown, number>();
  top.rules.forEach((rule: Record<string, unknown> | null, i) => {
    if (rule === null || typeof rule !== 'object') return;
    const at = (key: string, message: string) => problems.push({ path: ['rules', i, key], message });
    if (ids.has(rule.id)) at('id', `duplicate rule id '${String(rule.id)}' (also rules.${ids.get(rule.id)})`);
    else ids.set(rule.id, i);
    const deny = rule.effect === 'deny';
    if (deny && rule.view !== undefined) at('view', 'only allow rules have a view (a deny rule with fields masks attributes)');
    if (!deny && rule.fields !== undefined) at('fields', "fields are masked by deny rules: add 'effect: deny'");
    const actions = Array.isArray(rule.actions) ? rule.actions : [rule.actions];
    if (actions.includes('admin') && rule.resources !== undefined) at('resources', 'the admin action is not about studies: a rule for it has no resources');
    const environment = rule.environment as { breakGlass?: unknown } | undefined;
    if (environment?.breakGlass !== undefined && top.breakGlass === undefined) {
      problems.push({ path: ['rules', i, 'environment', 'breakGlass'], message: 'the policy has no breakGlass section: nobody may declare an emergency' });
    }
  });
  return problems;
}

/** The path of a problem (`rules.2.actions.1`) and the line of the closest node that exists (0: none). */
function where(yaml: Document, lines: LineCounter, path: Path): { name: string; line: number } {
  const name = path.length === 0 ? '(root)' : path.map(String).join('.');
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? yaml.contents : yaml.getIn(path.slice(0, depth) as Array<string | number>, true);
    if (isNode(node) && node.range) return { name, line: lines.linePos(node.range[0]).line };
  }
  return { name, line: 0 };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
