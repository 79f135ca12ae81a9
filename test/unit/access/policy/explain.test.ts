/**
 * Explanations: the decision and, for every rule in file order, whether it applied and why not:
 * the action, the subject condition, the environment condition, a template the subject cannot
 * fill, or the study attributes that do not match.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Environment, StudyResource, Subject } from '../../../../gateway/access/model.js';
import { parsePolicy } from '../../../../gateway/access/policy/policy.js';

const POLICY = parsePolicy(
  `version: 1
timeZone: UTC
breakGlass: { subjects: { role: physician } }
rules:
  - id: own-institution
    subjects: { role: radiologist }
    actions: [search, read]
    resources: { institution: "\${subject.institution}", modality: [CT, MR] }
    environment: { purpose: [TREAT, ETREAT] }
  - id: office-hours-export
    subjects: { role: radiologist }
    actions: export
    environment: { time: { from: "07:00", to: "19:00", days: [mon-fri] } }
  - id: researchers
    subjects: { role: research }
    actions: read
    view: deidentified
  - id: no-vip
    effect: deny
    subjects: anyone
    actions: read
    resources: { confidentiality: V }
  - id: same-team
    effect: deny
    subjects: { role: radiologist }
    actions: read
    resources: { department: { ne: "\${subject.team}" } }
  - id: hide-birth-date
    effect: deny
    subjects: anyone
    actions: read
    fields: [PatientBirthDate]
  - id: emergency
    subjects: { role: [physician, radiologist] }
    actions: read
    environment: { breakGlass: true }
`,
  'explain.yaml',
);

const alice: Subject = { name: 'alice', role: 'radiologist', attributes: { institution: 'CHU', team: 'neuro' }, method: 'password' };
const env: Environment = { time: new Date('2026-03-07T10:00:00Z'), clientAddress: '10.0.0.1', purpose: 'TREAT' };
const resource: StudyResource = {
  study: '1.2.3',
  institution: 'Clinique',
  department: 'neuro',
  modality: ['US'],
  referringPhysician: null,
  studyDate: '20240101',
  confidentiality: 'N',
  patientId: 'P1',
  accessionNumber: null,
};

describe('explanations', () => {
  it('say for every rule where it stopped applying, or what it does', () => {
    const explanation = POLICY.explain(alice, env, 'read', resource);
    assert.deepEqual(explanation.decision, { allowed: false, reason: 'no rule allows read on this study for this subject and environment' });
    assert.equal(explanation.clock, 'sat 10:00');
    assert.deepEqual(explanation.breakGlass, { inForce: false, reason: 'no break-glass grant' });
    assert.deepEqual(
      explanation.rules.map((r) => [r.id, r.kind, r.applies, r.stage, r.reason]),
      [
        ['own-institution', 'access', false, 'resource', 'institution is "Clinique" (wants eq ${subject.institution} = "CHU"); modality is ["US"] (wants in CT, MR)'],
        ['office-hours-export', 'access', false, 'action', 'not for read (only export)'],
        ['researchers', 'deidentified', false, 'subject', "role is 'radiologist' (wants research)"],
        ['no-vip', 'access', false, 'resource', 'confidentiality is "N" (wants eq V)'],
        ['same-team', 'access', false, 'resource', 'department is "neuro" (wants ne ${subject.team} = "neuro")'],
        ['hide-birth-date', 'mask', true, 'applies', 'masks 00100030'],
        ['emergency', 'access', false, 'environment', 'break-glass is not in force: no break-glass grant'],
      ],
    );
  });

  it('name the environment condition that fails', () => {
    const rules = POLICY.explain(alice, { ...env, purpose: 'HRESCH' }, 'read', resource).rules;
    assert.equal(rules[0].reason, 'purpose of use is HRESCH (wants TREAT, ETREAT)');
    assert.deepEqual(POLICY.explain(alice, env, 'export', resource).rules[1], {
      id: 'office-hours-export',
      effect: 'allow',
      kind: 'access',
      applies: false,
      stage: 'environment',
      reason: 'time sat 10:00 is outside 07:00-19:00 mon-fri',
    });
    const doctor: Subject = { ...alice, role: 'physician' };
    const late = POLICY.explain(doctor, { ...env, purpose: 'ETREAT', breakGlass: { id: 'g', reason: 'r', expiresAt: new Date('2026-03-07T09:00:00Z') } }, 'read', resource);
    assert.equal(late.rules[6].reason, 'break-glass is not in force: the break-glass grant expired at 2026-03-07T09:00:00.000Z');
    const radiologist = POLICY.explain(alice, { ...env, purpose: 'ETREAT', breakGlass: { id: 'g', reason: 'r', expiresAt: new Date('2026-03-07T11:00:00Z') } }, 'read', resource);
    assert.equal(radiologist.rules[6].reason, "break-glass is not in force: the policy does not let this subject break the glass (role is 'radiologist' (wants physician))");
  });

  it('mark the deciding rule and show the view of an allowed study', () => {
    const explanation = POLICY.explain(alice, env, 'read', { ...resource, institution: 'CHU', modality: ['CT'], department: 'neuro' });
    assert.deepEqual(explanation.decision, { allowed: true, rule: 'own-institution', reason: "allowed by rule 'own-institution'" });
    assert.deepEqual(explanation.view, { deidentify: false, maskedFields: ['00100030'] });
    assert.deepEqual(
      explanation.rules.filter((r) => r.applies).map((r) => r.id),
      ['own-institution', 'hide-birth-date'],
    );
  });

  it('say when a template cannot be filled, and what that does', () => {
    const noTeam: Subject = { ...alice, attributes: { institution: 'CHU' } };
    const rule = POLICY.explain(noTeam, env, 'read', { ...resource, institution: 'CHU', modality: ['CT'] }).rules[4];
    assert.deepEqual(rule, { id: 'same-team', effect: 'deny', kind: 'access', applies: true, stage: 'template', reason: 'subject has no team: the rule applies to every study' });
    const noInstitution: Subject = { ...alice, attributes: { team: 'neuro' } };
    assert.deepEqual(POLICY.explain(noInstitution, env, 'read', resource).rules[0].reason, 'subject has no institution: the rule gives nothing');
  });

  it('without a study, say which rules could apply', () => {
    const rules = POLICY.explain(alice, env, 'read').rules;
    assert.equal(rules[0].reason, 'allows (the studies its resources match)');
    assert.equal(rules[5].reason, 'masks 00100030 (every study)');
  });

  it('for the admin role, evaluate no rule', () => {
    const explanation = POLICY.explain({ ...alice, role: 'admin' }, env, 'delete', resource);
    assert.equal(explanation.decision.rule, 'builtin:admin');
    assert.ok(
      explanation.rules.every((r) => r.stage === 'admin' && !r.applies),
      'no rule evaluated for admin',
    );
  });
});
