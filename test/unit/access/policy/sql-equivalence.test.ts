/**
 * What makes QIDO paging honest: for random policies (allow and deny rules with random conditions
 * on every resource attribute, modality lists, date ranges, templates the subject can and cannot
 * fill), the studies the `studyFilter` SQL selects from a real SQLite catalog are exactly those for
 * which `can()` answers allowed on every combination of attributes their instances carry (one to
 * three per study), whatever NULLs, series-less studies and studies without instances it holds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { Catalog } from '../../../../gateway/catalog/catalog.js';
import type { Environment, StudyResource, Subject } from '../../../../gateway/access/model.js';
import { parsePolicy } from '../../../../gateway/access/policy/policy.js';
import { loadStudyResource } from '../../../../gateway/access/policy/study-resource.js';

const RUNS = Number(process.env.AEGIS_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.AEGIS_FUZZ_SEED ?? 20260401);

/** Small domains, so that random conditions often match; null is a value the catalog holds. */
const DOMAINS = {
  institution: ['CHU', 'Clinique', 'Hôpital Nord'],
  department: ['radiology', 'cardiology'],
  referringPhysician: ['Doe^John', 'Roe^Jane'],
  studyDate: ['20190101', '20200615', '20211231', '20220101', '20230704'],
  confidentiality: ['N', 'R', 'V'],
  patientId: ['P1', 'P2', 'P3'],
  accessionNumber: ['A1', 'A2'],
} as const;
const MODALITIES = ['CT', 'MR', 'US', 'PT'];
const SCALARS = Object.keys(DOMAINS) as Array<keyof typeof DOMAINS>;

const subject: Subject = { name: 'alice', role: 'clinician', attributes: { institution: 'CHU', department: 'cardiology' }, method: 'password' };
const env: Environment = { time: new Date('2026-03-03T10:00:00Z'), clientAddress: '10.1.2.3', purpose: 'TREAT' };

let dir: string;
let catalog: Catalog;
/** Per study, its combinations of attributes (none: a study without instances, which no one may see). */
let resources: Array<{ study: string; combinations: StudyResource[] }>;

/** A deterministic catalog: every attribute sometimes NULL, studies with 0 to 3 series, series without modality. */
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aegis-policy-sql-'));
  catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  const pick = <T>(values: readonly T[], n: number): T | null => (n % (values.length + 1) === values.length ? null : values[n % (values.length + 1)]);
  const now = new Date().toISOString();
  for (let i = 0; i < 90; i++) {
    const uid = `1.2.826.0.1.${i}`;
    await catalog.db
      .insertInto('studies')
      .values({
        study_uid: uid,
        patient_name: null,
        patient_name_fuzzy: null,
        patient_id: pick(DOMAINS.patientId, i * 7),
        patient_birth_date: null,
        patient_sex: null,
        study_date: pick(DOMAINS.studyDate, i * 3),
        study_time: null,
        accession_number: pick(DOMAINS.accessionNumber, i * 5),
        referring_physician_name: pick(DOMAINS.referringPhysician, i * 11),
        referring_physician_fuzzy: null,
        study_id: null,
        study_description: null,
        institution_name: pick(DOMAINS.institution, i),
        department_name: pick(DOMAINS.department, i * 13),
        confidentiality_code: pick(DOMAINS.confidentiality, i * 17),
        attributes: '{}',
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (let s = 0; s < i % 4; s++) {
      await catalog.db
        .insertInto('series')
        .values({
          series_uid: `${uid}.${s}`,
          study_uid: uid,
          modality: (i + s) % 6 === 5 ? null : MODALITIES[(i * 3 + s) % MODALITIES.length],
          series_number: s,
          series_description: null,
          performed_start_date: null,
          performed_start_time: null,
          attributes: '{}',
          created_at: now,
        })
        .execute();
    }
  }
  for (let i = 0; i < 90; i++) {
    const uid = `1.2.826.0.1.${i}`;
    // Mostly one combination (the first instance's values), some studies two or three, a few none.
    const count = i % 9 === 8 ? 0 : i % 5 === 3 ? 3 : i % 4 === 1 ? 2 : 1;
    for (let c = 0; c < count; c++) {
      const n = i + c * 37;
      const values = {
        institution_name: c === 0 ? pick(DOMAINS.institution, i) : pick(DOMAINS.institution, n * 5),
        department_name: pick(DOMAINS.department, c === 0 ? i * 13 : n * 3),
        referring_physician_name: pick(DOMAINS.referringPhysician, c === 0 ? i * 11 : n),
        study_date: pick(DOMAINS.studyDate, c === 0 ? i * 3 : n * 7),
        confidentiality_code: pick(DOMAINS.confidentiality, c === 0 ? i * 17 : n * 2),
        patient_id: pick(DOMAINS.patientId, c === 0 ? i * 7 : n * 11),
        accession_number: pick(DOMAINS.accessionNumber, c === 0 ? i * 5 : n * 13),
      };
      await catalog.db
        .insertInto('study_policy_attributes')
        .values({ study_uid: uid, key: `combination-${c}`, ...values })
        .execute();
    }
  }
  resources = [];
  for (let i = 0; i < 90; i++) resources.push({ study: `1.2.826.0.1.${i}`, combinations: (await loadStudyResource(catalog.db, `1.2.826.0.1.${i}`)) ?? [] });
  assert.ok(resources.filter((r) => r.combinations.length > 1).length >= 20, 'studies with several combinations');
  assert.ok(resources.filter((r) => r.combinations.length === 0).length >= 5, 'studies without instances');
});

after(async () => {
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A value of an attribute: a literal, or a template the subject fills (or cannot: `nickname`). */
function value(attribute: keyof typeof DOMAINS) {
  const literals = fc.constantFrom(...DOMAINS[attribute]);
  if (attribute !== 'institution' && attribute !== 'department') return literals;
  return fc.oneof({ weight: 4, arbitrary: literals }, fc.constant(`\${subject.${attribute}}`), fc.constant('${subject.nickname}'));
}

const scalarCondition = fc.constantFrom(...SCALARS).chain((attribute) =>
  (attribute === 'studyDate'
    ? fc.oneof(
        value(attribute),
        fc.array(value(attribute), { minLength: 1, maxLength: 3 }),
        fc.record({ gte: value(attribute), lte: value(attribute) }, { requiredKeys: [] }).filter((o) => Object.keys(o).length > 0),
        fc.record({ gt: value(attribute), lt: value(attribute), ne: value(attribute) }, { requiredKeys: [] }).filter((o) => Object.keys(o).length > 0),
      )
    : fc.oneof(value(attribute), fc.array(value(attribute), { minLength: 1, maxLength: 3 }), fc.record({ ne: value(attribute) }), fc.record({ notIn: fc.array(value(attribute), { minLength: 1, maxLength: 2 }) }))
  ).map((condition) => [attribute, condition] as const),
);

const modalityCondition = fc
  .oneof(
    fc.constantFrom(...MODALITIES),
    fc.array(fc.constantFrom(...MODALITIES), { minLength: 1, maxLength: 3 }),
    fc.record({ ne: fc.constantFrom(...MODALITIES) }),
    fc.record({ notIn: fc.array(fc.constantFrom(...MODALITIES), { minLength: 1, maxLength: 2 }) }),
  )
  .map((condition) => ['modality', condition] as const);

const resourcesArbitrary = fc.uniqueArray(fc.oneof({ weight: 3, arbitrary: scalarCondition }, modalityCondition), { maxLength: 3, selector: ([attribute]) => attribute }).map((entries) => Object.fromEntries(entries));

/** Mostly rules for the subject; some for others or another purpose of use, which must change nothing. */
const ruleArbitrary = fc.record({
  effect: fc.constantFrom('allow', 'allow', 'deny'),
  subjects: fc.constantFrom<unknown>({ role: 'clinician' }, { role: 'clinician' }, 'anyone', { department: 'cardiology' }, { role: 'research' }),
  actions: fc.constantFrom(['search'], ['search', 'read'], ['read']),
  resources: resourcesArbitrary,
  environment: fc.constantFrom<unknown>(undefined, undefined, { purpose: 'TREAT' }, { purpose: 'HRESCH' }, { network: '10.0.0.0/8' }),
});

const policyArbitrary = fc.array(ruleArbitrary, { minLength: 1, maxLength: 5 }).map((rules) => ({
  version: 1,
  rules: rules.map((rule, i) => ({ id: `rule-${i}`, ...rule, ...(Object.keys(rule.resources).length === 0 && { resources: undefined }), ...(rule.environment === undefined && { environment: undefined }) })),
}));

it('studyFilter SQL selects exactly the studies can() allows (random policies, real SQLite catalog)', async () => {
  let where = 0;
  await fc.assert(
    fc.asyncProperty(policyArbitrary, fc.constantFrom('studies', 'st'), async (document, alias) => {
      const policy = parsePolicy(stringify(document), 'random policy');
      const ability = policy.abilityFor(subject, env);
      const expected = resources
        .filter((r) => r.combinations.length > 0 && r.combinations.every((c) => ability.can('search', c).allowed))
        .map((r) => r.study)
        .sort();
      const filter = ability.studyFilter('search');
      let selected: string[];
      // 'all' adds no condition: every study, and every study the gateway records has instances
      // (the studies without combinations here stand for a state the where-filter must still refuse).
      if (filter.kind === 'all') selected = resources.filter((r) => r.combinations.length > 0).map((r) => r.study);
      else if (filter.kind === 'none') selected = [];
      else {
        where += 1;
        const rows =
          alias === 'st'
            ? await catalog.db
                .selectFrom('studies as st')
                .select('st.study_uid')
                .where((eb) => filter.expression(eb, 'st'))
                .execute()
            : await catalog.db
                .selectFrom('studies')
                .select('studies.study_uid')
                .where((eb) => filter.expression(eb))
                .execute();
        selected = rows.map((r) => r.study_uid);
      }
      assert.deepEqual(selected.sort(), expected, `policy:\n${stringify(document)}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  assert.ok(where > RUNS / 4, `a good part of the runs must exercise the SQL translation (${where} of ${RUNS})`);
});
