/**
 * Studies as the policy sees them: from the catalog as STOW-RS records them (a real SQLite catalog,
 * instances added through the catalog), and from an instance's own attributes for STOW-RS checks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Catalog, type NewInstance } from '../../../../gateway/catalog/catalog.js';
import type { DicomJson } from '../../../../gateway/dicom/types.js';
import { loadStudyResource, studyResourceFromInstance } from '../../../../gateway/access/policy/study-resource.js';

function metadata(series: string, sop: string, modality: string | null): DicomJson {
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
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
  };
}

function instance(series: string, sop: string, modality: string | null): NewInstance {
  return { sopInstanceUid: sop, seriesUid: series, studyUid: '1.2.3', sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.1', metadata: metadata(series, sop, modality), layout: {}, size: 1, sha256: '0'.repeat(64), backend: 'local', key: sop, locator: sop, manifest: '{}' };
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
    assert.deepEqual(await loadStudyResource(catalog.db, '1.2.3'), { ...EXPECTED, modality: ['CT', 'MR'] });
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
