/**
 * Studies as the policy sees them: from the catalog as STOW-RS records them (a real SQLite catalog,
 * instances added through the catalog), one resource per combination of attributes among the
 * study's instances, kept in step as instances come, are replaced and go, and filled by the
 * migration for instances recorded before it; from an instance's own attributes for STOW-RS checks;
 * and the decision over several resources.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Catalog, type NewInstance } from '../../../../gateway/catalog/catalog.js';
import type { DicomJson } from '../../../../gateway/dicom/types.js';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { loadStudyResource, strictestView, studyDecision, studyResourceFromInstance } from '../../../../gateway/access/policy/study-resource.js';
import { parsePolicy } from '../../../../gateway/access/policy/policy.js';
import { catalogMigrations } from '../../../../gateway/catalog/migrations.js';
import { openSqlite } from '../../../../gateway/catalog/sqlite.js';
import { catalogInstance, text } from '../../../support/catalog-instance.js';

function metadata(series: string, sop: string, modality: string | null, changes: DicomJson = {}): DicomJson {
  return {
    '00080016': text('UI', '1.2.840.10008.5.1.4.1.1.2'),
    '00080018': text('UI', sop),
    '00080020': text('DA', '20240315'),
    '00080050': text('SH', 'ACC-1'),
    ...(modality !== null && { '00080060': text('CS', modality) }),
    '00080080': text('LO', 'CHU Nord'),
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] },
    '00081040': text('LO', 'Radiology'),
    '00100020': text('LO', 'PID-7'),
    '0020000D': text('UI', '1.2.3'),
    '0020000E': text('UI', series),
    '00401008': text('LO', 'R'),
    ...changes,
  };
}

function instance(series: string, sop: string, modality: string | null, changes: DicomJson = {}): NewInstance {
  return catalogInstance('1.2.3', series, sop, metadata(series, sop, modality, changes));
}

const EXPECTED = {
  study: '1.2.3',
  institution: 'CHU Nord',
  department: 'Radiology',
  referringPhysician: 'Doe^John',
  studyDate: '20240315',
  confidentiality: 'R',
  patientId: 'PID-7',
  accessionNumber: 'ACC-1',
};

it('loads a study from the catalog with the distinct modalities of its series, sorted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-study-resource-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  try {
    await catalog.addInstance(instance('1.2.3.1', '1.2.3.1.1', 'MR'));
    await catalog.addInstance(instance('1.2.3.2', '1.2.3.2.1', 'CT'));
    await catalog.addInstance(instance('1.2.3.3', '1.2.3.3.1', 'MR'));
    await catalog.addInstance(instance('1.2.3.4', '1.2.3.4.1', null));
    assert.deepEqual(await loadStudyResource(catalog.db, '1.2.3'), [{ ...EXPECTED, modality: ['CT', 'MR'] }], 'one combination: the instances agree');
    assert.equal(await loadStudyResource(catalog.db, '9.9.9'), undefined);
  } finally {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('describes the study of an instance from its own attributes', () => {
  assert.deepEqual(studyResourceFromInstance(metadata('1.2.3.1', '1.2.3.1.1', 'US'), '1.2.3'), { ...EXPECTED, modality: ['US'] });
  assert.deepEqual(studyResourceFromInstance(metadata('1.2.3.1', '1.2.3.1.1', null), '1.2.3').modality, []);
});

it('describes a study by every combination among its instances, kept in step as instances come, are replaced and go', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-study-resource-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  const normal = { '00401008': { vr: 'LO', Value: ['N'] } } as DicomJson;
  const elsewhere = { '00080080': { vr: 'LO', Value: ['Clinique'] } } as DicomJson;
  try {
    await catalog.addInstance(instance('1.2.3.1', '1.2.3.1.1', 'CT', normal));
    await catalog.addInstance(instance('1.2.3.1', '1.2.3.1.2', 'CT', normal));
    assert.deepEqual(await loadStudyResource(catalog.db, '1.2.3'), [{ ...EXPECTED, confidentiality: 'N', modality: ['CT'] }]);
    await catalog.addInstance(instance('1.2.3.1', '1.2.3.1.3', 'CT'));
    await catalog.addInstance(instance('1.2.3.2', '1.2.3.2.1', 'MR', elsewhere));
    const three = (await loadStudyResource(catalog.db, '1.2.3'))!;
    assert.deepEqual(
      three.map((r) => [r.institution, r.confidentiality, r.modality.join('\\')]).sort(),
      [
        ['CHU Nord', 'N', 'CT\\MR'],
        ['CHU Nord', 'R', 'CT\\MR'],
        ['Clinique', 'R', 'CT\\MR'],
      ],
      'one resource per combination, each with every modality of the study',
    );
    await catalog.addInstance(instance('1.2.3.1', '1.2.3.1.3', 'CT', normal), { replace: true });
    assert.equal((await loadStudyResource(catalog.db, '1.2.3'))!.length, 2, 'the replaced instance no longer brings R from CHU Nord');
    await catalog.removeInstances({ study: '1.2.3', series: '1.2.3.2' });
    assert.deepEqual(await loadStudyResource(catalog.db, '1.2.3'), [{ ...EXPECTED, confidentiality: 'N', modality: ['CT'] }], 'the Clinique instance removed');
    await catalog.removeInstances({ study: '1.2.3' });
    assert.equal(await loadStudyResource(catalog.db, '1.2.3'), undefined);
    assert.deepEqual(await catalog.db.selectFrom('study_policy_attributes').selectAll().execute(), [], 'nothing left of the study');
  } finally {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the migration fills the combinations of the instances recorded before it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-study-resource-'));
  const file = join(dir, 'catalog.sqlite');
  try {
    const sqlite = openSqlite(file);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite.database }) });
    const { error } = await new Migrator({ db, provider: catalogMigrations }).migrateTo('0004-manifests');
    assert.equal(error, undefined);
    const now = new Date().toISOString();
    await db.insertInto('studies').values({ study_uid: '1.2.3', attributes: '{}', created_at: now, updated_at: now, institution_name: 'CHU Nord', confidentiality_code: 'N' }).execute();
    await db.insertInto('series').values({ series_uid: '1.2.3.1', study_uid: '1.2.3', modality: 'CT', attributes: '{}', created_at: now }).execute();
    for (const [sop, changes] of [
      ['1.2.3.1.1', { '00401008': { vr: 'LO', Value: ['N'] } }],
      ['1.2.3.1.2', {}],
      ['1.2.3.1.3', {}],
    ] as const) {
      const { metadata: meta, ...rest } = instance('1.2.3.1', sop, 'CT', changes as DicomJson);
      await db
        .insertInto('instances')
        .values({
          sop_instance_uid: sop,
          series_uid: rest.seriesUid,
          study_uid: rest.studyUid,
          sop_class_uid: rest.sopClassUid,
          transfer_syntax_uid: rest.transferSyntaxUid,
          size: 1,
          sha256: rest.sha256,
          metadata: JSON.stringify(meta),
          layout: '{}',
          backend: 'local',
          locator: sop,
          created_at: now,
          manifest: null,
        })
        .execute();
    }
    await db.destroy();
    sqlite.close();
    const catalog = await Catalog.openSqlite(file);
    try {
      const found = (await loadStudyResource(catalog.db, '1.2.3'))!;
      assert.deepEqual(found.map((r) => r.confidentiality).sort(), ['N', 'R'], 'the R instances are seen, not just the first');
      const keys = await catalog.db.selectFrom('instances').select('policy_key').execute();
      assert.ok(
        keys.every((k) => k.policy_key !== null),
        'every instance points at its combination',
      );
    } finally {
      await catalog.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('decides on a study by all its resources: denied if any is, the strictest view', () => {
  const policy = parsePolicy(
    `version: 1
rules:
  - { id: own, subjects: { role: radiologist }, actions: read, resources: { institution: "\${subject.institution}" } }
  - { id: mask-r, effect: deny, subjects: anyone, actions: read, resources: { confidentiality: R }, fields: [PatientName] }
  - { id: deid-v, subjects: { role: radiologist }, actions: read, resources: { confidentiality: V }, view: deidentified }
`,
    'test',
  );
  const ability = policy.abilityFor({ name: 'r', role: 'radiologist', attributes: { institution: 'CHU Nord' }, method: 'password' }, { time: new Date(), clientAddress: '127.0.0.1', purpose: 'TREAT' });
  const base = { ...EXPECTED, modality: ['CT'] };
  assert.equal(studyDecision(ability, 'read', [base]).decision.allowed, true);
  const mixed = studyDecision(ability, 'read', [base, { ...base, institution: 'Clinique' }]);
  assert.equal(mixed.decision.allowed, false, 'one instance from another institution');
  assert.match(mixed.decision.reason, /no rule allows read on this study/);
  const views = studyDecision(ability, 'read', [base, { ...base, confidentiality: 'V' }]);
  assert.equal(views.decision.allowed, true);
  assert.deepEqual(views.view, { deidentify: true, maskedFields: ['00100010'] }, 'the masks of the R combination and the de-identification of the V one');
  assert.deepEqual(
    strictestView([
      { deidentify: false, maskedFields: ['00100030'] },
      { deidentify: false, maskedFields: ['00100010', '00100030'] },
    ]),
    { deidentify: false, maskedFields: ['00100010', '00100030'] },
  );
});
