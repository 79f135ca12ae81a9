/**
 * The policy file: validation reports every problem with its path and line (unknown keys, actions,
 * attributes, operators, purposes, CIDRs, times, days, zones, templates, keywords, cross-rule
 * mistakes), values are normalized (numbers, keywords to tags), the result is frozen, and the
 * shipped files (default and example) are valid, the default word for word the embedded one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGatewayError } from '../../../../gateway/errors.js';
import { DEFAULT_POLICY_TEXT } from '../../../../gateway/access/policy/default-policy.js';
import { DEFAULT_POLICY, loadPolicy, parsePolicy, PolicyError } from '../../../../gateway/access/policy/policy.js';

/** The problems a policy text is refused with (fails when it is accepted). */
function problems(text: string): readonly string[] {
  try {
    parsePolicy(text, 'test.yaml');
  } catch (error) {
    assert.ok(error instanceof PolicyError, `a PolicyError, not ${String(error)}`);
    assert.equal(isGatewayError(error, 'POLICY_INVALID'), true, 'code POLICY_INVALID');
    assert.equal(error.status, 500);
    return error.problems;
  }
  assert.fail(`accepted:\n${text}`);
}

const config = (name: string) => new URL(`../../../../config/${name}`, import.meta.url);

describe('policy file', () => {
  it('reports every problem of a file at once, each with its path and line, in line order', () => {
    const found = problems(`version: 2
colour: blue
rules:
  - id: Bad Id
    subjects: {}
    actions: [search, reed]
    resources:
      institution: { like: x }
      modality: { gte: CT }
      studyDate: { gte: 2024-01-01 }
      wardRoom: 12
      department: "\${user.department}"
    environment:
      purpose: TRAET
      network: [10.0.0.0/33, "::1/128", 10]
      time: { from: "7:00", to: "25:00", days: [mon, fry] }
    fields: [PatientBirthDate, NoSuchKeyword, 00100030]
  - id: dup
    effect: deny
    subjects: { role: research }
    actions: read
    view: deidentified
  - id: dup
    subjects: anyone
    actions: admin
    resources: { institution: X }
    environment: { breakGlass: true }
`);
    const expected = [
      'version (line 1): the only policy version is 1',
      '(root) (line 1): Unrecognized key: "colour"',
      'rules.0.id (line 4): rule ids are lower-case letters, digits, ".", "_" and "-" (at most 64)',
      "rules.0.subjects (line 5): an empty map: write 'anyone' to mean every subject",
      'rules.0.actions.1 (line 6): Invalid option: expected one of "search"|"read"|"create"|"delete"|"export"|"admin"',
      "rules.0.resources.institution.like (line 8): 'like' is not an operator (eq, ne, in, notIn, gte, lte, gt, lt)",
      "rules.0.resources.modality.gte (line 9): 'gte' compares in order: only studyDate takes it (use eq, ne, in, notIn)",
      "rules.0.resources.studyDate.gte (line 10): '2024-01-01' is not a date YYYYMMDD",
      "rules.0.resources.wardRoom (line 11): 'wardRoom' is not a resource attribute (study, institution, department, modality, referringPhysician, studyDate, confidentiality, patientId, accessionNumber)",
      "rules.0.resources.department (line 12): '${user.department}' is not a template: use ${subject.name}, ${subject.role} or ${subject.<attribute>}",
      'rules.0.environment.purpose (line 14): Invalid option: expected one of "TREAT"|"ETREAT"|"HRESCH"',
      "rules.0.environment.network.0 (line 15): '10.0.0.0/33' is not an IPv4 or IPv6 address or CIDR range (like 10.0.0.0/8 or fd00::/8)",
      'rules.0.environment.network.2 (line 15): Invalid input: expected string, received number',
      "rules.0.environment.time (line 16): '7:00' is not a time HH:MM from 00:00 to 23:59; '25:00' is not a time HH:MM from 00:00 to 23:59 (or 24:00); 'fry' is not a day (sun, mon, tue, wed, thu, fri, sat) or a range of days like mon-fri",
      "rules.0.fields.1 (line 17): 'NoSuchKeyword' is not a DICOM keyword or tag",
      'rules.0.fields.2 (line 17): 100030 is a number to YAML: write tags in quotes ("00100030") or use the keyword',
      "rules.0.fields (line 17): fields are masked by deny rules: add 'effect: deny'",
      'rules.1.view (line 22): only allow rules have a view (a deny rule with fields masks attributes)',
      "rules.2.id (line 23): duplicate rule id 'dup' (also rules.1)",
      'rules.2.resources (line 26): the admin action is not about studies: a rule for it has no resources',
      'rules.2.environment.breakGlass (line 27): the policy has no breakGlass section: nobody may declare an emergency',
    ];
    assert.deepEqual(found, expected);
  });

  it('names the file and lists the problems in the error message', () => {
    assert.throws(
      () => parsePolicy('version: 1\nrules: [{ id: a, subjects: anyone, actions: fly }]\n', 'site/policy.yaml'),
      (error: Error) => error.message.startsWith('invalid policy site/policy.yaml:\n  - rules.0.actions (line 2): Invalid option'),
    );
  });

  it('refuses YAML syntax errors and duplicate keys with their line', () => {
    const found = problems('version: 1\nrules:\n  - id: a\n    id: b\n');
    assert.equal(found.length, 1);
    assert.match(found[0], /Map keys must be unique at line 4/);
    assert.match(problems('version: 1\nrules: [\n')[0], /line 3/);
  });

  it('requires subjects, actions and version, and refuses unknown rule keys, empty lists, null values and bad time zones', () => {
    assert.deepEqual(problems('rules:\n  - id: a\n    action: read\n    subject: anyone\n    resources: { institution: ~, modality: [] }\ntimeZone: Mars/Olympus\n'), [
      'version (line 1): the only policy version is 1',
      "rules.0.subjects (line 2): must be 'anyone' or a map of subject conditions (role, name or an attribute: a value or a list)",
      'rules.0.actions (line 2): Invalid option: expected one of "search"|"read"|"create"|"delete"|"export"|"admin"',
      'rules.0 (line 2): Unrecognized keys: "action", "subject"',
      'rules.0.resources.institution (line 5): must be a text (or number) value',
      'rules.0.resources.modality (line 5): must not be an empty list',
      "timeZone (line 6): 'Mars/Olympus' is not a time zone (an IANA name like Europe/Paris or UTC)",
    ]);
  });

  it('refuses an empty time window, reversed day ranges are fine, bad subject keys are named', () => {
    assert.deepEqual(problems('version: 1\nrules:\n  - id: a\n    subjects: { Role: x }\n    actions: read\n    environment: { time: { from: "08:00", to: "08:00" } }\n'), [
      "rules.0.subjects.Role (line 4): 'Role' is not a subject attribute (name, role, or a lower-case attribute key)",
      'rules.0.environment.time (line 6): the window 08:00-08:00 is empty (for the whole day write 00:00-24:00)',
    ]);
  });

  it('normalizes values: single values to lists, numbers to text, keywords and tags to tags, duplicates dropped', () => {
    const policy = parsePolicy(`version: 1
rules:
  - id: dates
    subjects: { role: clerk, licence: 1234 }
    actions: read
    resources: { studyDate: { gte: 20200101, lte: "20201231" }, modality: CT, institution: [A, B] }
  - id: masks
    effect: deny
    subjects: anyone
    actions: [read, read, search]
    fields: [PatientBirthDate, "(0010,1040)", "00100030", x00081030]
`);
    const [dates, masks] = policy.document.rules;
    assert.deepEqual(dates.subjects, [
      { key: 'role', values: ['clerk'] },
      { key: 'licence', values: ['1234'] },
    ]);
    assert.deepEqual(
      dates.resources.map((t) => [t.attribute, t.operator, Array.isArray(t.value) ? t.value.map((v) => v.text) : (t.value as { text: string }).text]),
      [
        ['studyDate', 'gte', '20200101'],
        ['studyDate', 'lte', '20201231'],
        ['modality', 'eq', 'CT'],
        ['institution', 'in', ['A', 'B']],
      ],
    );
    assert.equal(dates.kind, 'access');
    assert.equal(dates.effect, 'allow', 'effect defaults to allow');
    assert.equal(masks.kind, 'mask');
    assert.deepEqual(masks.actions, ['read', 'search']);
    assert.deepEqual(masks.fields, ['00100030', '00101040', '00081030']);
    assert.equal(policy.denied, 'not-found', 'denied defaults to not-found');
  });

  it('freezes the parsed policy', () => {
    const policy = parsePolicy('version: 1\nrules: [{ id: a, subjects: anyone, actions: read }]\n');
    assert.equal(Object.isFrozen(policy.document), true);
    assert.equal(Object.isFrozen(policy.document.rules[0]), true);
    assert.throws(() => {
      (policy.document.rules as unknown as unknown[]).push({});
    }, TypeError);
  });

  it('loadPolicy reads a file and reports an unreadable one as POLICY_INVALID', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-policy-file-'));
    try {
      const file = join(dir, 'policy.yaml');
      writeFileSync(file, 'version: 1\ndenied: forbidden\n');
      const policy = loadPolicy(file);
      assert.equal(policy.source, file);
      assert.equal(policy.denied, 'forbidden');
      assert.deepEqual(policy.document.rules, []);
      assert.throws(
        () => loadPolicy(join(dir, 'missing.yaml')),
        (error: unknown) => error instanceof PolicyError && /cannot read the policy file: ENOENT/.test(error.problems[0]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships config/policy.yaml as the embedded default, and a valid example with every feature', () => {
    assert.equal(readFileSync(config('policy.yaml'), 'utf8'), DEFAULT_POLICY_TEXT);
    assert.deepEqual(
      DEFAULT_POLICY.document.rules.map((r) => r.id),
      ['clinicians-own-institution', 'modalities-store', 'research-deidentified', 'research-no-confidential', 'emergency-any-study'],
    );
    const example = loadPolicy(config('policy.example.yaml').pathname);
    const rules = example.document.rules;
    const operators = new Set(rules.flatMap((r) => r.resources.map((t) => t.operator)));
    assert.deepEqual([...operators].sort(), ['eq', 'gte', 'in', 'lt', 'lte', 'ne', 'notIn'].sort(), 'the example uses the operators');
    assert.ok(rules.some((r) => r.kind === 'mask') && rules.some((r) => r.deidentified), 'the example has a mask and a de-identified view');
    for (const condition of ['windows', 'networks', 'purposes'] as const) {
      assert.ok(
        rules.some((r) => r.environment[condition] !== undefined),
        `the example has ${condition} conditions`,
      );
    }
    assert.ok(
      rules.some((r) => r.environment.windows?.some((w) => w.from > w.to)),
      'the example has an overnight window',
    );
    assert.ok(
      rules.some((r) => r.environment.breakGlass === true),
      'the example has a break-glass rule',
    );
    assert.ok(example.document.timeZone !== undefined, 'the example names its time zone');
  });
});
