/**
 * `aegis policy check|validate` as users run them (`node bin/aegis.mjs`), on a temporary data
 * directory with users and studies in its catalog: decisions explained rule by rule, exit codes
 * (0 allowed, 3 denied, 1 failure or invalid policy, 2 usage), the environment options, another
 * policy file, JSON output.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAegis, type AegisRun } from '../support/aegis-cli.js';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';

const PASSWORD = 'correct horse battery staple';

function expectExit(run: AegisRun, status: number, what: string): void {
  assert.equal(run.status, status, `${what}: exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe('aegis policy', () => {
  let dir: string;
  let data: string;
  const policy = (args: string[]) => runAegis(['policy', ...args, '--data', data], { unset: ['AEGIS_CONFIG', 'AEGIS_DATA_DIR'] });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-policy-cli-'));
    data = join(dir, 'data');
    const catalog = await Catalog.openSqlite(join(data, 'catalog.sqlite'));
    const users = new UserStore(catalog.db);
    await users.add({ name: 'alice', role: 'radiologist', attributes: { institution: 'CHU' }, password: PASSWORD });
    await users.add({ name: 'rita', role: 'research', password: PASSWORD });
    const now = new Date().toISOString();
    for (const [uid, institution, confidentiality, otherInstitution] of [
      ['1.2.3.1', 'CHU', 'N'],
      ['1.2.3.2', 'Clinique', 'V'],
      ['1.2.3.3', 'CHU', 'N', 'Clinique'],
    ]) {
      await catalog.db
        .insertInto('studies')
        .values({
          study_uid: uid,
          patient_name: null,
          patient_name_fuzzy: null,
          patient_id: 'P1',
          patient_birth_date: null,
          patient_sex: null,
          study_date: '20240101',
          study_time: null,
          accession_number: null,
          referring_physician_name: null,
          referring_physician_fuzzy: null,
          study_id: null,
          study_description: null,
          institution_name: institution,
          department_name: null,
          confidentiality_code: confidentiality,
          attributes: '{}',
          created_at: now,
          updated_at: now,
        })
        .execute();
      await catalog.db
        .insertInto('series')
        .values({ series_uid: `${uid}.1`, study_uid: uid, modality: 'CT', series_number: 1, series_description: null, performed_start_date: null, performed_start_time: null, attributes: '{}', created_at: now })
        .execute();
      // What the policy reads of the study's instances: one combination, or two when they name two institutions.
      for (const [i, name] of [institution, otherInstitution].filter((n) => n !== undefined).entries()) {
        await catalog.db
          .insertInto('study_policy_attributes')
          .values({ study_uid: uid, key: `k${i}`, institution_name: name!, department_name: null, referring_physician_name: null, study_date: '20240101', confidentiality_code: confidentiality, patient_id: 'P1', accession_number: null })
          .execute();
      }
    }
    await catalog.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('explains an allowed decision, rule by rule, and exits 0', async () => {
    const run = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.1', '--time', '2026-03-03T10:00:00Z', '--client', '10.1.2.3']);
    expectExit(run, 0, 'check allowed');
    assert.equal(
      run.stdout,
      `ALLOWED: read on study 1.2.3.1 by alice (role radiologist)
reason: allowed by rule 'clinicians-own-institution'
view: full
environment: purpose TREAT, client 10.1.2.3, time 2026-03-03T10:00:00.000Z (${run.stdout.match(/\((\w{3} \d\d:\d\d) on the policy clock\)/)?.[1]} on the policy clock)
break-glass: not in force (no break-glass grant)
study: institution=CHU department=(none) modality=CT referringPhysician=(none) studyDate=20240101 confidentiality=N patientId=P1 accessionNumber=(none)
policy: the default policy (config/policy.yaml)

rules, in file order (+ applies, - does not):
  + clinicians-own-institution (allow): allows  <= decides
  - modalities-store (allow): action: not for read (only create)
  - research-deidentified (allow, de-identified view): subject: role is 'radiologist' (wants research)
  - research-no-confidential (deny): subject: role is 'radiologist' (wants research)
  - emergency-any-study (allow): environment: purpose of use is TREAT (wants ETREAT)
`,
    );
  });

  it('exits 3 on a denial and says how the study answers; break-glass and purpose change the decision', async () => {
    const denied = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.2']);
    expectExit(denied, 3, 'check denied');
    assert.match(denied.stdout, /^DENIED: read on study 1\.2\.3\.2 by alice \(role radiologist\)\nreason: no rule allows read on this study for this subject and environment\nanswer: 404 Not Found \(existence not revealed\)\n/);
    assert.match(denied.stdout, /- clinicians-own-institution \(allow\): resource: institution is "Clinique" \(wants eq \$\{subject\.institution\} = "CHU"\)/);

    const emergency = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.2', '--break-glass']);
    expectExit(emergency, 0, 'check --break-glass');
    assert.match(emergency.stdout, /reason: allowed by rule 'emergency-any-study' under break-glass\n/);
    assert.match(emergency.stdout, /environment: purpose ETREAT, /, 'break-glass defaults the purpose to ETREAT');
    assert.match(emergency.stdout, /break-glass: in force\n/);

    const mixed = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.3']);
    expectExit(mixed, 3, 'a study whose instances name two institutions');
    assert.match(mixed.stdout, /study: institution=Clinique /, 'the combination that denies is explained');
    assert.match(mixed.stdout, /\nnote: the study's instances describe it in 2 ways; each must be allowed \(shown: the first denied\)\n/);

    const research = await policy(['check', '--user', 'rita', '--action', 'read', '--study', '1.2.3.1', '--purpose', 'HRESCH']);
    expectExit(research, 0, 'research');
    assert.match(research.stdout, /view: de-identified \(PS3\.15 Annex E Basic Profile\)\n/);
    const vip = await policy(['check', '--user', 'rita', '--action', 'read', '--study', '1.2.3.2', '--purpose', 'HRESCH']);
    expectExit(vip, 3, 'research on a V study');
    assert.match(vip.stdout, /reason: denied by rule 'research-no-confidential'\n/);
    assert.match(vip.stdout, /\+ research-no-confidential \(deny\): denies  <= decides\n/);
  });

  it('uses another policy file, and writes JSON on request', async () => {
    const file = join(dir, 'forbidden.yaml');
    writeFileSync(file, 'version: 1\ndenied: forbidden\nrules:\n  - { id: night-only, subjects: anyone, actions: read, environment: { time: { from: "22:00", to: "06:00" } } }\ntimeZone: UTC\n');
    const day = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.1', '--policy', file, '--time', '2026-03-03T12:00:00Z']);
    expectExit(day, 3, 'day');
    assert.match(day.stdout, /answer: 403 Forbidden\n/);
    assert.match(day.stdout, /- night-only \(allow\): environment: time tue 12:00 is outside 22:00-06:00\n/);
    assert.match(day.stdout, new RegExp(`policy: ${file.replace(/[.\\/]/g, '\\$&')}\n`));
    const night = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '1.2.3.1', '--policy', file, '--time', '2026-03-04T05:59:00Z', '--json']);
    expectExit(night, 0, 'night --json');
    const json = JSON.parse(night.stdout) as { policy: string; decision: unknown; clock: string; rules: Array<{ id: string; applies: boolean }> };
    assert.equal(json.policy, file);
    assert.deepEqual(json.decision, { allowed: true, rule: 'night-only', reason: "allowed by rule 'night-only'" });
    assert.equal(json.clock, 'wed 05:59');
    assert.deepEqual(
      json.rules.map((r) => [r.id, r.applies]),
      [['night-only', true]],
    );
  });

  it('exits 1 for an unknown user, study or catalog, 2 for a wrong command line', async () => {
    const user = await policy(['check', '--user', 'nobody', '--action', 'read', '--study', '1.2.3.1']);
    expectExit(user, 1, 'unknown user');
    assert.equal(user.stderr, "aegis policy: no user 'nobody'\n");
    const study = await policy(['check', '--user', 'alice', '--action', 'read', '--study', '9.9.9']);
    expectExit(study, 1, 'unknown study');
    assert.equal(study.stderr, 'aegis policy: no study 9.9.9 in the catalog\n');
    const catalog = await runAegis(['policy', 'check', '--user', 'alice', '--action', 'read', '--study', '1', '--data', join(dir, 'empty')]);
    expectExit(catalog, 1, 'no catalog');
    assert.match(catalog.stderr, /no catalog in .*empty \(catalog\.sqlite missing\)/);
    for (const [args, message] of [
      [['check', '--user', 'alice', '--action', 'read'], "'check --action read' needs --study UID"],
      [['check', '--user', 'alice', '--action', 'fly', '--study', '1'], "--action: 'fly' is not one of search, read, create, delete, export, admin"],
      [['check', '--user', 'alice', '--action', 'read', '--study', '1', '--time', 'yesterday'], "--time: 'yesterday' is not an ISO 8601 date and time (like 2026-03-03T10:00:00Z)"],
      [['check', '--user', 'alice', '--action', 'read', '--study', '1', '--purpose', 'FUN'], "--purpose: 'FUN' is not one of TREAT, ETREAT, HRESCH"],
      [['check', '--user', 'alice', '--action', 'read', '--study', '1', '--client', 'somewhere'], "--client: 'somewhere' is not an IP address"],
      [['validate', '--user', 'alice'], "'validate' takes no --user"],
      [['frobnicate'], "unknown sub-command 'frobnicate'"],
    ] as const) {
      const run = await policy([...args]);
      expectExit(run, 2, args.join(' '));
      assert.equal(run.stderr, `aegis policy: ${message}\n(see 'aegis policy --help')\n`);
    }
  });

  it('validates policy files: exit 0 when valid, 1 with every problem', async () => {
    const valid = await policy(['validate']);
    expectExit(valid, 0, 'validate default');
    assert.equal(valid.stdout, 'the default policy (config/policy.yaml): valid, 5 rules\n');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'version: 1\nrules:\n  - id: a\n    subjects: { role: x }\n    actions: [reed]\n    environment: { network: 300.1.1.1/8 }\n');
    const invalid = await policy(['validate', '--policy', file]);
    expectExit(invalid, 1, 'validate broken');
    assert.equal(
      invalid.stderr,
      `aegis policy: invalid policy ${file}:
  - rules.0.actions.0 (line 5): Invalid option: expected one of "search"|"read"|"create"|"delete"|"export"|"admin"
  - rules.0.environment.network (line 6): '300.1.1.1/8' is not an IPv4 or IPv6 address or CIDR range (like 10.0.0.0/8 or fd00::/8)
`,
    );
  });

  it('is listed in the help of aegis and has its own', async () => {
    const top = await runAegis(['--help']);
    expectExit(top, 0, 'aegis --help');
    assert.match(top.stdout, /\n {2}policy {2}explain access decisions, validate the policy file/);
    const help = await runAegis(['policy', '--help']);
    expectExit(help, 0, 'aegis policy --help');
    assert.match(help.stdout, /^usage: aegis policy <sub-command> \[options\]\n/);
    assert.match(help.stdout, /Exit 0 allowed, 3 denied\./);
  });
});
