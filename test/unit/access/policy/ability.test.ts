/**
 * Decisions of the policy engine: subject, resource and environment conditions of every kind,
 * templates (a subject lacking the attribute never matches by accident), deny rules winning and
 * the deciding rule named, break-glass, the admin role, the admin action, denied status, field
 * masks and the de-identified view, study filters and the ability cache.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Environment, StudyResource, Subject } from '../../../../gateway/access/model.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../../../gateway/access/policy/policy.js';

/** A policy of `rules` (YAML list items), clock in UTC; `head` adds top-level keys. */
function policy(rules: string, head = ''): Policy {
  return parsePolicy(`version: 1\ntimeZone: UTC\n${head}rules:\n${rules}`, 'test policy');
}

function subject(role: string, attributes: Record<string, string> = {}, name = 'alice'): Subject {
  return { name, role, attributes, method: 'password' };
}

/** Tuesday 2026-03-03 10:00 UTC, from 10.1.2.3, for treatment. */
function env(overrides: Partial<Environment> = {}): Environment {
  return { time: new Date('2026-03-03T10:00:00Z'), clientAddress: '10.1.2.3', purpose: 'TREAT', ...overrides };
}

function study(overrides: Partial<StudyResource> = {}): StudyResource {
  return {
    study: '1.2.3',
    institution: 'CHU',
    department: 'radiology',
    modality: ['CT'],
    referringPhysician: 'Doe^John',
    studyDate: '20240101',
    confidentiality: 'N',
    patientId: 'P1',
    accessionNumber: 'A1',
    ...overrides,
  };
}

const grant = (minutes = 30, from = env().time) => ({ id: 'g1', reason: 'cardiac arrest in ER', expiresAt: new Date(from.getTime() + minutes * 60_000) });

describe('subject conditions', () => {
  const p = policy(`
  - id: by-role
    subjects: { role: [radiologist, physician] }
    actions: read
  - id: by-name
    subjects: { name: bob }
    actions: search
  - id: by-attributes
    subjects: { role: clerk, department: [radiology, cardiology], site: north }
    actions: export
  - id: everybody
    subjects: anyone
    actions: create
`);

  it('match a role or name among the listed values', () => {
    assert.equal(p.abilityFor(subject('physician'), env()).can('read', study()).allowed, true);
    assert.equal(p.abilityFor(subject('clerk'), env()).can('read', study()).allowed, false);
    assert.equal(p.abilityFor(subject('clerk', {}, 'bob'), env()).can('search', study()).rule, 'by-name');
    assert.equal(p.abilityFor(subject('clerk', {}, 'carol'), env()).can('search', study()).allowed, false);
  });

  it('need every attribute condition to hold; a missing attribute never holds', () => {
    assert.equal(p.abilityFor(subject('clerk', { department: 'cardiology', site: 'north' }), env()).can('export', study()).allowed, true);
    assert.equal(p.abilityFor(subject('clerk', { department: 'cardiology', site: 'south' }), env()).can('export', study()).allowed, false);
    assert.equal(p.abilityFor(subject('clerk', { department: 'cardiology' }), env()).can('export', study()).allowed, false);
    assert.equal(p.abilityFor(subject('clerk', { department: 'cardiology', site: '' }), env()).can('export', study()).allowed, false, 'an empty value is no value');
  });

  it("'anyone' includes the anonymous subject", () => {
    const anonymous: Subject = { name: 'anonymous', role: 'anonymous', attributes: {}, method: 'anonymous' };
    assert.equal(p.abilityFor(anonymous, env()).can('create', study()).allowed, true);
    assert.equal(p.abilityFor(anonymous, env()).can('read', study()).allowed, false);
  });
});

describe('resource conditions', () => {
  const decide = (resources: string, resource: StudyResource) =>
    policy(`
  - id: r
    subjects: anyone
    actions: read
    resources: ${resources}
`)
      .abilityFor(subject('x'), env())
      .can('read', resource).allowed;

  it('eq and in match equal values only, never a missing one', () => {
    assert.equal(decide('{ institution: CHU }', study()), true);
    assert.equal(decide('{ institution: chu }', study()), false, 'case-sensitive');
    assert.equal(decide('{ institution: [A, CHU] }', study()), true);
    assert.equal(decide('{ institution: { in: [A, B] } }', study()), false);
    assert.equal(decide('{ institution: { eq: CHU } }', study({ institution: null })), false);
  });

  it('ne and notIn match different values and missing ones', () => {
    assert.equal(decide('{ confidentiality: { ne: V } }', study()), true);
    assert.equal(decide('{ confidentiality: { ne: N } }', study()), false);
    assert.equal(decide('{ confidentiality: { ne: V } }', study({ confidentiality: null })), true);
    assert.equal(decide('{ confidentiality: { notIn: [R, V] } }', study({ confidentiality: 'R' })), false);
    assert.equal(decide('{ confidentiality: { notIn: [R, V] } }', study({ confidentiality: null })), true);
  });

  it('date ranges include their bounds (gte, lte) or not (gt, lt) and never match a missing date', () => {
    const range = '{ studyDate: { gte: "20240101", lte: "20241231" } }';
    assert.equal(decide(range, study({ studyDate: '20240101' })), true);
    assert.equal(decide(range, study({ studyDate: '20241231' })), true);
    assert.equal(decide(range, study({ studyDate: '20250101' })), false);
    assert.equal(decide(range, study({ studyDate: '20231231' })), false);
    assert.equal(decide(range, study({ studyDate: null })), false);
    assert.equal(decide('{ studyDate: { lt: "20240101" } }', study({ studyDate: null })), false, 'lt on a missing date (CASL alone would say true)');
    assert.equal(decide('{ studyDate: { gt: "20240101" } }', study({ studyDate: '20240101' })), false);
    assert.equal(decide('{ studyDate: { lt: "20240102" } }', study({ studyDate: '20240101' })), true);
  });

  it('modality matches when some series has it (eq, in) or none has (ne, notIn)', () => {
    const mixed = study({ modality: ['CT', 'SR'] });
    assert.equal(decide('{ modality: SR }', mixed), true);
    assert.equal(decide('{ modality: [MR, US] }', mixed), false);
    assert.equal(decide('{ modality: { ne: SR } }', mixed), false);
    assert.equal(decide('{ modality: { notIn: [MR, US] } }', mixed), true);
    assert.equal(decide('{ modality: CT }', study({ modality: [] })), false, 'a study without series has no modality');
    assert.equal(decide('{ modality: { ne: CT } }', study({ modality: [] })), true);
  });

  it('need every attribute to match', () => {
    assert.equal(decide('{ institution: CHU, modality: CT, department: radiology }', study()), true);
    assert.equal(decide('{ institution: CHU, modality: MR }', study()), false);
  });
});

describe('templates', () => {
  const p = policy(`
  - id: own-institution
    subjects: { role: radiologist }
    actions: [search, read]
    resources: { institution: "\${subject.institution}" }
  - id: referred
    subjects: { role: physician }
    actions: read
    resources: { referringPhysician: "\${subject.family}^\${subject.given}" }
  - id: own-department-only
    effect: deny
    subjects: { role: radiologist }
    actions: [search, read]
    resources: { department: { ne: "\${subject.department}" } }
`);

  it('fill subject attributes, also within a value', () => {
    const alice = subject('radiologist', { institution: 'CHU', department: 'radiology' });
    assert.equal(p.abilityFor(alice, env()).can('read', study()).rule, 'own-institution');
    assert.equal(p.abilityFor(alice, env()).can('read', study({ institution: 'Clinique' })).allowed, false);
    const doe = subject('physician', { family: 'Doe', given: 'John' });
    assert.equal(p.abilityFor(doe, env()).can('read', study()).allowed, true);
    assert.equal(p.abilityFor(subject('physician', { family: 'Doe', given: 'Jane' }), env()).can('read', study()).allowed, false);
  });

  it('make an allow rule give nothing when the subject lacks the attribute, even on a study that lacks it too', () => {
    const noInstitution = subject('radiologist', { department: 'radiology' });
    const ability = noInstitution && p.abilityFor(noInstitution, env());
    assert.equal(ability.can('read', study({ institution: null })).allowed, false);
    assert.equal(ability.can('read', study({ institution: '' })).allowed, false);
    assert.equal(ability.studyFilter('search').kind, 'none');
    assert.equal(p.abilityFor(subject('physician', { family: 'Doe' }), env()).can('read', study({ referringPhysician: 'Doe^' })).allowed, false);
  });

  it('make a deny rule deny every study when the subject lacks the attribute (fail closed)', () => {
    const noDepartment = subject('radiologist', { institution: 'CHU' });
    const decision = p.abilityFor(noDepartment, env()).can('read', study());
    assert.deepEqual(decision, { allowed: false, rule: 'own-department-only', reason: "denied by rule 'own-department-only'" });
    assert.equal(p.abilityFor(noDepartment, env()).studyFilter('search').kind, 'none');
  });
});

describe('deny rules', () => {
  const p = policy(`
  - id: read-all
    subjects: anyone
    actions: [search, read]
  - id: read-chu
    subjects: anyone
    actions: read
    resources: { institution: CHU }
  - id: no-vip
    effect: deny
    subjects: anyone
    actions: [search, read]
    resources: { confidentiality: V }
  - id: no-psychiatry
    effect: deny
    subjects: anyone
    actions: read
    resources: { department: psychiatry }
`);
  const ability = p.abilityFor(subject('x'), env());

  it('win over allow rules wherever they stand in the file', () => {
    assert.deepEqual(ability.can('read', study({ confidentiality: 'V' })), { allowed: false, rule: 'no-vip', reason: "denied by rule 'no-vip'" });
    const before = policy(`
  - id: no-vip
    effect: deny
    subjects: anyone
    actions: read
    resources: { confidentiality: V }
  - id: read-all
    subjects: anyone
    actions: read
`);
    assert.equal(before.abilityFor(subject('x'), env()).can('read', study({ confidentiality: 'V' })).rule, 'no-vip');
  });

  it('name the first matching deny rule, else the first matching allow rule, in file order', () => {
    assert.equal(ability.can('read', study({ confidentiality: 'V', department: 'psychiatry' })).rule, 'no-vip');
    assert.equal(ability.can('read', study()).rule, 'read-all');
    assert.deepEqual(ability.can('read', study()), { allowed: true, rule: 'read-all', reason: "allowed by rule 'read-all'" });
  });

  it('deny only their actions', () => {
    assert.equal(ability.can('search', study({ department: 'psychiatry' })).allowed, true);
    assert.equal(ability.can('read', study({ department: 'psychiatry' })).allowed, false);
  });

  it('do not restrict the admin role, which may do everything', () => {
    const admin = p.abilityFor(subject('admin'), env());
    for (const action of ['search', 'read', 'create', 'delete', 'export', 'admin'] as const) {
      assert.deepEqual(admin.can(action, study({ confidentiality: 'V' })), { allowed: true, rule: 'builtin:admin', reason: 'role admin may do everything' }, action);
    }
    assert.deepEqual(admin.studyFilter('delete'), { kind: 'all' });
  });
});

describe('the admin action', () => {
  it('is the admin role alone unless a rule grants it', () => {
    assert.equal(DEFAULT_POLICY.abilityFor(subject('radiologist', { institution: 'CHU' }), env()).can('admin').allowed, false);
    assert.equal(DEFAULT_POLICY.abilityFor(subject('admin'), env()).can('admin').allowed, true);
    const p = policy(`
  - id: auditors
    subjects: { role: auditor }
    actions: admin
`);
    assert.deepEqual(p.abilityFor(subject('auditor'), env()).can('admin'), { allowed: true, rule: 'auditors', reason: "allowed by rule 'auditors'" });
    const some = policy('  - { id: ct, subjects: anyone, actions: read, resources: { modality: CT } }\n').abilityFor(subject('x'), env());
    assert.equal(some.can('read').reason, "allowed by rule 'ct' (on the studies it matches)", 'without a study: allowed on some');
    assert.equal(p.abilityFor(subject('auditor'), env()).can('read', study()).allowed, false);
  });
});

describe('environment conditions', () => {
  const p = policy(`
  - id: treatment-on-site
    subjects: anyone
    actions: read
    environment: { purpose: [TREAT, ETREAT], network: [10.0.0.0/8, "::1"] }
  - id: office-hours
    subjects: anyone
    actions: export
    environment: { time: { from: "07:00", to: "19:00", days: [mon-fri] } }
  - id: night-shift
    subjects: anyone
    actions: delete
    environment: { time: { from: "22:00", to: "06:00", days: [fri] } }
`);
  const can = (action: 'read' | 'export' | 'delete', overrides: Partial<Environment>) => p.abilityFor(subject('x'), env(overrides)).can(action, study()).allowed;

  it('purpose of use must be one of the listed', () => {
    assert.equal(can('read', { purpose: 'TREAT' }), true);
    assert.equal(can('read', { purpose: 'ETREAT' }), true);
    assert.equal(can('read', { purpose: 'HRESCH' }), false);
  });

  it('the client must be in one of the networks, IPv4-mapped clients included', () => {
    assert.equal(can('read', { clientAddress: '::ffff:10.9.9.9' }), true);
    assert.equal(can('read', { clientAddress: '::1' }), true);
    assert.equal(can('read', { clientAddress: '192.168.1.1' }), false);
    assert.equal(can('read', { clientAddress: 'unknown' }), false);
  });

  it('the time must be in a window on the policy clock, edges and overnight windows included', () => {
    assert.equal(can('export', { time: new Date('2026-03-03T07:00:00Z') }), true, 'Tuesday 07:00');
    assert.equal(can('export', { time: new Date('2026-03-03T06:59:59Z') }), false, 'Tuesday 06:59');
    assert.equal(can('export', { time: new Date('2026-03-03T19:00:00Z') }), false, 'Tuesday 19:00');
    assert.equal(can('export', { time: new Date('2026-03-07T10:00:00Z') }), false, 'Saturday');
    assert.equal(can('delete', { time: new Date('2026-03-06T23:30:00Z') }), true, 'Friday 23:30');
    assert.equal(can('delete', { time: new Date('2026-03-07T05:59:00Z') }), true, 'Saturday 05:59, Friday night');
    assert.equal(can('delete', { time: new Date('2026-03-07T06:00:00Z') }), false, 'Saturday 06:00');
    assert.equal(can('delete', { time: new Date('2026-03-06T05:00:00Z') }), false, 'Friday 05:00 is Thursday night');
  });

  it('the policy time zone sets the clock', () => {
    const paris = parsePolicy('version: 1\ntimeZone: Europe/Paris\nrules: [{ id: a, subjects: anyone, actions: read, environment: { time: { from: "08:00", to: "09:00" } } }]\n');
    assert.equal(paris.abilityFor(subject('x'), env({ time: new Date('2026-07-01T06:30:00Z') })).can('read', study()).allowed, true, '08:30 in Paris (UTC+2)');
    assert.equal(paris.abilityFor(subject('x'), env({ time: new Date('2026-07-01T08:30:00Z') })).can('read', study()).allowed, false, '10:30 in Paris');
  });
});

describe('break-glass', () => {
  const p = policy(
    `
  - id: own-institution
    subjects: { role: [physician, clerk] }
    actions: read
    resources: { institution: "\${subject.institution}" }
  - id: vip-only-in-emergency
    effect: deny
    subjects: anyone
    actions: read
    resources: { confidentiality: V }
    environment: { breakGlass: false }
  - id: emergency
    subjects: { role: [physician, clerk] }
    actions: read
    environment: { purpose: ETREAT, breakGlass: true }
`,
    'breakGlass: { subjects: { role: physician }, maxMinutes: 45 }\n',
  );
  const doctor = subject('physician', { institution: 'CHU' });
  const elsewhere = study({ institution: 'Clinique' });

  it('is in force with an unexpired grant, purpose ETREAT, for a subject the policy allows', () => {
    const ability = p.abilityFor(doctor, env({ purpose: 'ETREAT', breakGlass: grant() }));
    assert.equal(ability.breakGlass, true);
    assert.deepEqual(ability.can('read', elsewhere), { allowed: true, rule: 'emergency', reason: "allowed by rule 'emergency' under break-glass", breakGlass: true });
    assert.equal(ability.can('read', study({ confidentiality: 'V' })).allowed, true, 'the deny rule is for ordinary access');
    assert.equal(ability.studyFilter('read').kind, 'all');
  });

  it('is not in force without a grant, with an expired one, without ETREAT, or for another subject', () => {
    const cases: Array<[Subject, Partial<Environment>]> = [
      [doctor, { purpose: 'ETREAT' }],
      [doctor, { purpose: 'ETREAT', breakGlass: grant(-1) }],
      [doctor, { purpose: 'ETREAT', breakGlass: grant(0) }],
      [doctor, { purpose: 'TREAT', breakGlass: grant() }],
      [subject('clerk', { institution: 'CHU' }), { purpose: 'ETREAT', breakGlass: grant() }],
    ];
    for (const [who, overrides] of cases) {
      const ability = p.abilityFor(who, env(overrides));
      assert.equal(ability.breakGlass, false, JSON.stringify(overrides));
      assert.equal(ability.can('read', elsewhere).allowed, false, JSON.stringify(overrides));
      assert.equal(ability.can('read', study({ confidentiality: 'V' })).rule, 'vip-only-in-emergency');
    }
  });

  it('may be declared only by the subjects of the breakGlass section', () => {
    assert.equal(p.abilityFor(doctor, env()).mayBreakGlass(), true);
    assert.equal(p.mayBreakGlass(doctor), true);
    assert.equal(p.abilityFor(subject('clerk'), env()).mayBreakGlass(), false);
    assert.equal(p.abilityFor(subject('admin'), env()).mayBreakGlass(), false, 'admin needs no emergency access');
    assert.equal(p.breakGlass?.maxMinutes, 45);
    const none = policy('  - { id: a, subjects: anyone, actions: read }\n');
    assert.equal(none.mayBreakGlass(doctor), false, 'no breakGlass section: nobody');
    assert.equal(none.breakGlass, undefined);
  });
});

describe('views', () => {
  const p = policy(`
  - id: research
    subjects: { role: research }
    actions: [search, read]
    environment: { purpose: HRESCH }
    view: deidentified
  - id: clerks
    subjects: { role: clerk }
    actions: [search, read]
  - id: clerk-masks
    effect: deny
    subjects: { role: clerk }
    actions: [search, read]
    fields: [PatientBirthDate, PatientAddress]
  - id: clerk-masks-vip
    effect: deny
    subjects: { role: clerk }
    actions: read
    resources: { confidentiality: V }
    fields: [PatientName, "00100030"]
`);

  it('de-identify what a rule with the de-identified view gives', () => {
    const ability = p.abilityFor(subject('research'), env({ purpose: 'HRESCH' }));
    assert.equal(ability.can('read', study()).allowed, true);
    assert.deepEqual(ability.view('read', study()), { deidentify: true, maskedFields: [] });
    assert.deepEqual(ability.view('search'), { deidentify: true, maskedFields: [] });
  });

  it('mask fields of the studies a mask rule matches, as sorted tags, without denying them', () => {
    const ability = p.abilityFor(subject('clerk'), env());
    assert.equal(ability.can('read', study({ confidentiality: 'V' })).allowed, true, 'a mask rule denies nothing');
    assert.deepEqual(ability.view('read', study()), { deidentify: false, maskedFields: ['00100030', '00101040'] });
    assert.deepEqual(ability.view('read', study({ confidentiality: 'V' })), { deidentify: false, maskedFields: ['00100010', '00100030', '00101040'] });
    assert.deepEqual(ability.view('read'), { deidentify: false, maskedFields: ['00100010', '00100030', '00101040'] }, 'no study: the strictest view');
    assert.deepEqual(ability.view('search', study({ confidentiality: 'V' })), { deidentify: false, maskedFields: ['00100030', '00101040'] });
  });

  it('are full for others and for the admin role', () => {
    assert.deepEqual(p.abilityFor(subject('research'), env({ purpose: 'TREAT' })).view('read', study()), { deidentify: false, maskedFields: [] });
    assert.deepEqual(p.abilityFor(subject('admin'), env()).view('read', study()), { deidentify: false, maskedFields: [] });
  });
});

describe('denied studies', () => {
  it('answer 404 by default and 403 when the policy says forbidden', () => {
    const hidden = DEFAULT_POLICY.abilityFor(subject('clerk'), env());
    assert.equal(hidden.denied, 'not-found');
    const notFound = hidden.deniedError('no such study');
    assert.equal(notFound.code, 'NOT_FOUND');
    assert.equal(notFound.status, 404);
    assert.equal(notFound.message, 'no such study');
    const forbidden = parsePolicy('version: 1\ndenied: forbidden\n').abilityFor(subject('clerk'), env()).deniedError('denied');
    assert.equal(forbidden.code, 'FORBIDDEN');
    assert.equal(forbidden.status, 403);
  });
});

describe('study filters', () => {
  it('are none without an allow rule, all for an unconditional one, where otherwise, none after an unconditional deny', () => {
    assert.equal(policy('  - { id: a, subjects: anyone, actions: read }\n').abilityFor(subject('x'), env()).studyFilter('search').kind, 'none');
    assert.equal(policy('  - { id: a, subjects: anyone, actions: search }\n').abilityFor(subject('x'), env()).studyFilter('search').kind, 'all');
    assert.equal(policy('  - { id: a, subjects: anyone, actions: search, resources: { modality: CT } }\n').abilityFor(subject('x'), env()).studyFilter('search').kind, 'where');
    const denied = policy('  - { id: a, subjects: anyone, actions: search }\n  - { id: b, effect: deny, subjects: anyone, actions: search }\n');
    assert.equal(denied.abilityFor(subject('x'), env()).studyFilter('search').kind, 'none');
    assert.equal(denied.abilityFor(subject('x'), env()).can('search').allowed, false);
  });
});

describe('the ability cache', () => {
  it('hands the same ability to the same subject in the same applicable rules, another when they differ', () => {
    const alice = subject('radiologist', { institution: 'CHU' });
    const first = DEFAULT_POLICY.abilityFor(alice, env());
    assert.equal(DEFAULT_POLICY.abilityFor({ ...alice }, env({ time: new Date('2026-03-04T10:00:00Z'), clientAddress: '10.9.9.9' })), first);
    assert.notEqual(DEFAULT_POLICY.abilityFor(alice, env({ purpose: 'HRESCH' })), first);
    assert.equal(DEFAULT_POLICY.abilityFor(alice, env({ purpose: 'HRESCH' })).can('read', study()).allowed, false);
    const elsewhere = DEFAULT_POLICY.abilityFor(subject('radiologist', { institution: 'Clinique' }), env());
    assert.notEqual(elsewhere, first, 'templates differ');
    assert.equal(elsewhere.can('read', study()).allowed, false);
  });
});

describe('the default policy', () => {
  it('lets a modality store into studies of its own institution only; a modality without an institution stores nothing', () => {
    const ct = DEFAULT_POLICY.abilityFor(subject('modality', { institution: 'CHU' }, 'ct-chu'), env());
    assert.equal(ct.can('create', study()).allowed, true, 'its own institution');
    assert.equal(ct.can('create', study({ institution: 'Clinique' })).allowed, false, "another institution's study");
    assert.equal(ct.can('create', study({ institution: null })).allowed, false, 'a study that names no institution');
    const unnamed = DEFAULT_POLICY.abilityFor(subject('modality', {}, 'ct-anywhere'), env());
    assert.equal(unnamed.can('create', study()).allowed, false, 'a modality without an institution attribute');
    assert.equal(unnamed.can('create').allowed, false);
  });
});
