/**
 * Fuzz target: the policy loader (YAML, config/policy.md). Policies built from the real
 * vocabulary (actions, purposes, resource attributes, operators, templates, CIDRs, time windows,
 * time zones, DICOM keywords and tags), with wrong types and junk at every place, serialized as
 * YAML or JSON; the example and default policies with characters inserted, deleted or replaced;
 * and YAML features a loader can trip over (anchors and aliases, merge keys, custom and core tags,
 * deep nesting, duplicate keys). Invariant: a Policy, or POLICY_INVALID with every problem listed;
 * a valid policy answers a decision for a few subjects.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { Environment, StudyResource, Subject } from '../../../gateway/access/model.js';
import { parsePolicy } from '../../../gateway/access/policy/policy.js';
import { catalogued } from '../support/catalogued.js';
import { fuzzTarget } from '../support/target.js';

const EXAMPLE = readFileSync(new URL('../../../config/policy.example.yaml', import.meta.url), 'utf8');
const DEFAULT = readFileSync(new URL('../../../config/policy.yaml', import.meta.url), 'utf8');
/** The example policy cut into small policies of one rule each (a whole file costs tens of ms to load). */
const EXAMPLE_RULES = EXAMPLE.split(/\n(?=  - id:)/)
  .slice(1)
  .map((rule) => `version: 1\ntimeZone: Europe/Paris\nbreakGlass: { subjects: anyone }\nrules:\n${rule}`);

const junk = fc.oneof(fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, '', ' ', '~', [], {}, [[]], { a: {} }), fc.string({ maxLength: 8 }), fc.integer());
/** A value from `valid` most of the time, else junk of any type. */
const some = (...valid: unknown[]): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: junk });
const oneOrList = <T>(item: fc.Arbitrary<T>) => fc.oneof(item, fc.array(item, { maxLength: 3 }));

const text = some('radiologist', 'physician', 'CT', 'MR', '20240101', '${subject.institution}', '${subject.name}', '${subject.', '${nope}', '$', 'R', 'V');
const subjects = fc.oneof(fc.constant('anyone'), fc.dictionary(fc.constantFrom('role', 'name', 'institution', 'Role', 'x-y', ''), oneOrList(text), { maxKeys: 3 }), junk);
const operator = fc.constantFrom('eq', 'ne', 'in', 'notIn', 'gte', 'lte', 'gt', 'lt', 'like', '');
const condition = fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.dictionary(operator, oneOrList(text), { maxKeys: 3 }));
const resources = fc.oneof(fc.dictionary(fc.constantFrom('study', 'institution', 'department', 'modality', 'referringPhysician', 'studyDate', 'confidentiality', 'patientId', 'accessionNumber', 'nope'), condition, { maxKeys: 4 }), junk);
const window = fc.record(
  { from: some('07:00', '19:00', '24:00', '7', '07:60', '23:59'), to: some('08:00', '00:00', '25:00'), days: fc.option(oneOrList(some('mon-fri', 'sat', 'sun-mon', 'monday', 'fri-mon', '')), { nil: undefined }) },
  { requiredKeys: ['from', 'to'] },
);
const environment = fc.oneof(
  fc.record(
    {
      purpose: oneOrList(some('TREAT', 'ETREAT', 'HRESCH', 'treat')),
      network: oneOrList(some('10.0.0.0/8', 'fd00::/8', '::1', '127.0.0.1', '10.0.0.0/33', '1.2.3', '::ffff:1.2.3.4/200', 'fe80::1%eth0')),
      time: oneOrList(fc.oneof(window, junk)),
      breakGlass: some(true, false),
    },
    { requiredKeys: [] },
  ),
  junk,
);
const field = some('PatientBirthDate', 'PatientAddress', '(0010,2154)', '00100030', '0010,0030', 'NotAKeyword', '(ZZZZ,0000)', 100030);
const rule = fc.record(
  {
    id: some('r1', 'r2', 'r1', 'a.b_c-d', 'R1', '-x', 'x'.repeat(70)),
    description: some('text'),
    effect: some('allow', 'deny', 'permit'),
    subjects,
    actions: oneOrList(some('search', 'read', 'create', 'delete', 'export', 'admin', 'write')),
    resources,
    environment,
    view: some('deidentified', 'full'),
    fields: oneOrList(field),
    extra: junk,
  },
  { requiredKeys: ['id', 'subjects', 'actions'] },
);
const policyObject = fc.record(
  {
    version: some(1, 2, '1'),
    denied: some('not-found', 'forbidden', 'hidden'),
    timeZone: some('Europe/Paris', 'UTC', 'Mars/Olympus', '+02:00', ''),
    breakGlass: fc.oneof(fc.record({ subjects, maxMinutes: some(1, 60, 1440, 0, 1441, 2.5) }, { requiredKeys: [] }), junk),
    rules: fc.oneof({ weight: 5, arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: rule }, { weight: 1, arbitrary: junk }), { maxLength: 4 }) }, { weight: 1, arbitrary: junk }),
    other: junk,
  },
  { requiredKeys: ['version'] },
);

/** The text edited: characters inserted, deleted or replaced at a few places. */
const edited = (source: string) =>
  fc.array(fc.tuple(fc.nat({ max: source.length }), fc.nat({ max: 8 }), fc.string({ unit: fc.constantFrom(...':-[]{}&*!|>\'"#%@`,? \n\t<'.split('')), maxLength: 4 })), { minLength: 1, maxLength: 4 }).map((edits) => {
    let out = source;
    for (const [at, remove, insert] of edits) out = out.slice(0, at) + insert + out.slice(at + remove);
    return out;
  });

const YAML_SPECIALS = [
  'version: 1\nrules: &r []\nother: *r',
  'version: 1\nrules: *missing',
  'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nversion: 1',
  'version: 1\nbase: &base { subjects: anyone, actions: read }\nrules:\n  - <<: *base\n    id: merged',
  'version: !!int "1"\nrules: !!seq []',
  'version: 1\nrules: !custom []',
  'version: !!binary aGVsbG8=',
  'version: !!timestamp 2024-01-01',
  'version: 1\nversion: 1',
  'version: 1\nrules:\n  - id: a\n    id: b\n    subjects: anyone\n    actions: read',
  '? [a, b]\n: c\nversion: 1',
  '{version: 1, rules: [{id: x, subjects: anyone, actions: read, resources: {studyDate: {gte: 2024-01-01}}}]}',
  '--- \nversion: 1\n---\nversion: 1',
  '%YAML 1.1\n---\nversion: 1\nrules: [{id: y, subjects: anyone, actions: read, environment: {breakGlass: yes}}]',
  '\uFEFFversion: 1',
  'version: 1\nrules: [{id: x, subjects: {__proto__: {role: admin}}, actions: read}]',
  'version: 1\nrules: [{id: constructor, subjects: {constructor: x, toString: y}, actions: read, resources: {hasOwnProperty: 1}}]',
];
const nested = fc.nat({ max: 600 }).map((depth) => `version: 1\nrules: ${'['.repeat(depth)}${']'.repeat(depth)}`);
const nestedMaps = fc.nat({ max: 400 }).map((depth) => `version: 1\nother: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`);

const policyText = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(policyObject, fc.boolean()).map(([object, json]) => (json ? JSON.stringify(object) : stringify(object))) },
  { weight: 2, arbitrary: fc.constantFrom(...EXAMPLE_RULES).chain(edited) },
  { weight: 1, arbitrary: edited(DEFAULT) },
  { weight: 2, arbitrary: fc.constantFrom(...YAML_SPECIALS) },
  { weight: 1, arbitrary: nested },
  { weight: 1, arbitrary: nestedMaps },
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
);

const SUBJECTS: Subject[] = [
  { name: 'ann', role: 'radiologist', attributes: { institution: 'CT' }, method: 'password' },
  { name: 'bob', role: 'research', attributes: {}, method: 'password' },
];
const STUDY: StudyResource = { study: '1.2.3', institution: 'CT', department: null, modality: ['CT'], referringPhysician: null, studyDate: '20240101', confidentiality: null, patientId: 'P1', accessionNumber: null };
const ENVIRONMENT: Environment = { time: new Date(Date.UTC(2026, 0, 5, 10)), clientAddress: '10.1.2.3', purpose: 'TREAT' };

export const target = fuzzTarget({
  arbitrary: policyText,
  check(text) {
    const policy = catalogued(['POLICY_INVALID'], () => parsePolicy(text, 'fuzz.yaml'));
    if (policy === undefined) return;
    for (const subject of SUBJECTS) {
      const ability = policy.abilityFor(subject, ENVIRONMENT);
      ability.can('read');
      ability.can('read', STUDY);
      ability.view('read', STUDY);
      ability.studyFilter('search');
    }
  },
});
