/**
 * QIDO-RS below the query level (PS3.18 §8.3.4, §10.6; PS3.4 C.4.1.2.3 relational queries):
 * `includefield` and matching on attributes of the instances of a study or series (Rows,
 * InstitutionName, StationName), private attributes named with their Private Creator (PS3.18
 * §8.3.4.3, PS3.5 §7.8.1), and the bound on the work one search may do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance, type ExtraElement } from '../fixtures/synthetic.js';
import { get, stow, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

type Json = Record<string, any>;

describe('QIDO-RS below the query level', () => {
  let gw: TestGateway;
  const base = newUid();
  const study = `${base}.1`;
  const other = `${base}.2`;
  // Series UIDs in the order the catalog lists them: A before B.
  const seriesA = `${base}.3.1`;
  const seriesB = `${base}.3.2`;
  const seriesC = `${base}.3.3`;
  const sops = [`${base}.4.1`, `${base}.4.2`, `${base}.4.3`, `${base}.4.4`];
  const acme = (block: number, value: string): ExtraElement[] => [
    { tag: `0009${block.toString(16).padStart(4, '0').toUpperCase()}`, vr: 'LO', value: 'ACME 1.0' },
    { tag: `0009${block.toString(16).toUpperCase()}10`, vr: 'LO', value },
  ];
  const patientStudy = { studyInstanceUID: study, patientID: 'DEPTH-1', studyDate: '20240101' };
  const instances = [
    // Series A (CT, North): Rows 512 then 256; the first carries ACME's element 10 in block 10.
    syntheticInstance({
      ...patientStudy,
      seriesInstanceUID: seriesA,
      sopInstanceUID: sops[0],
      instanceNumber: 1,
      modality: 'CT',
      rows: 512,
      columns: 2,
      institutionName: 'North',
      extra: [{ tag: '00081010', vr: 'SH', value: 'CT01' }, ...acme(0x10, 'alpha')],
    }),
    syntheticInstance({ ...patientStudy, seriesInstanceUID: seriesA, sopInstanceUID: sops[1], instanceNumber: 2, modality: 'CT', rows: 256, columns: 2, institutionName: 'North', extra: [{ tag: '00081010', vr: 'SH', value: 'CT02' }] }),
    // Series B (MR, South): ACME in block 11, and another creator's element 10 in block 10.
    syntheticInstance({
      ...patientStudy,
      seriesInstanceUID: seriesB,
      sopInstanceUID: sops[2],
      instanceNumber: 1,
      modality: 'MR',
      rows: 128,
      columns: 2,
      institutionName: 'South',
      extra: [{ tag: '00090010', vr: 'LO', value: 'OTHER' }, { tag: '00091010', vr: 'LO', value: 'gamma' }, ...acme(0x11, 'beta'), { tag: '00081010', vr: 'SH', value: 'MR01' }],
    }),
    // Another study: Rows 64 only.
    syntheticInstance({ studyInstanceUID: other, patientID: 'DEPTH-1', seriesInstanceUID: seriesC, sopInstanceUID: sops[3], instanceNumber: 1, rows: 64, columns: 2, institutionName: 'East' }),
  ];
  let qido: (path: string) => Promise<{ status: number; warning: string | null; json: any }>;

  before(async () => {
    gw = await startTestGateway();
    const stored = await stow(gw.dicomWebUrl, instances);
    assert.equal(stored.status, 200, JSON.stringify(stored.json));
    qido = async (path) => {
      const res = await get(`${gw.dicomWebUrl}${path}`, 'application/dicom+json');
      return { status: res.status, warning: res.headers.get('warning'), json: JSON.parse(res.body.toString()) };
    };
  });
  after(async () => {
    await gw.stop();
  });

  const studies = (json: Json[]) => json.map((s) => value(s, '0020000D')).sort();

  it('includefield of an instance attribute at the study level gives the first instance’s value', async () => {
    const res = await qido(`/studies?StudyInstanceUID=${study}&includefield=Rows,InstitutionName,StationName`);
    assert.equal(res.status, 200);
    assert.equal(res.json.length, 1);
    assert.deepEqual(res.json[0]['00280010'], { vr: 'US', Value: [512] });
    assert.deepEqual(res.json[0]['00080080'], { vr: 'LO', Value: ['North'] });
    assert.deepEqual(res.json[0]['00081010'], { vr: 'SH', Value: ['CT01'] });
  });

  it('matches studies by an attribute of any of their instances, and shows the matching instance’s value', async () => {
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&Rows=512')).json), [study]);
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&Rows=64')).json), [other]);
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&Rows=999')).json), []);
    const mr = await qido('/studies?PatientID=DEPTH-1&Rows=128');
    assert.deepEqual(mr.json[0]['00280010'], { vr: 'US', Value: [128] });
    assert.equal(mr.warning, null);
  });

  it('matches InstitutionName at the study level against every instance, not the first only', async () => {
    const south = await qido('/studies?PatientID=DEPTH-1&InstitutionName=South');
    assert.equal(south.status, 200);
    assert.deepEqual(studies(south.json), [study]);
    assert.deepEqual(south.json[0]['00080080'], { vr: 'LO', Value: ['South'] });
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&InstitutionName=*o*')).json), [study]);
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&InstitutionName=Ea*')).json), [other]);
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&InstitutionName=West')).json), []);
  });

  it('matches attributes without a catalog column (StationName) at every level', async () => {
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&StationName=MR0?')).json), [study]);
    const series = await qido(`/studies/${study}/series?StationName=CT*`);
    assert.deepEqual(
      series.json.map((s: Json) => value(s, '0020000E')),
      [seriesA],
    );
    const instances = await qido(`/studies/${study}/instances?StationName=CT02`);
    assert.deepEqual(
      instances.json.map((s: Json) => value(s, '00080018')),
      [sops[1]],
    );
    assert.deepEqual(instances.json[0]['00081010'], { vr: 'SH', Value: ['CT02'] });
  });

  it('includefield and matching of instance attributes at the series level', async () => {
    const all = await qido(`/studies/${study}/series?includefield=Rows,InstanceNumber`);
    const byUid = new Map<string, Json>(all.json.map((s: Json) => [value(s, '0020000E'), s]));
    const series = (uid: string) => byUid.get(uid) ?? {};
    assert.equal(value(series(seriesA), '00280010'), 512);
    assert.equal(value(series(seriesA), '00200013'), 1, 'from the first instance by Instance Number');
    assert.equal(value(series(seriesB), '00280010'), 128);
    const second = await qido(`/studies/${study}/series?Rows=256`);
    assert.deepEqual(
      second.json.map((s: Json) => [value(s, '0020000E'), value(s, '00280010')]),
      [[seriesA, 256]],
    );
  });

  it('returns a private attribute under the block its Private Creator was given in, whatever block the instance used', async () => {
    const res = await qido(`/studies/${study}/instances?includefield=00091010&00090010=ACME 1.0`);
    assert.equal(res.status, 200);
    const bySop = new Map<string, Json>(res.json.map((i: Json) => [value(i, '00080018'), i]));
    const instance = (uid: string) => bySop.get(uid) ?? {};
    assert.deepEqual(instance(sops[0])['00091010'], { vr: 'LO', Value: ['alpha'] });
    assert.deepEqual(instance(sops[0])['00090010'], { vr: 'LO', Value: ['ACME 1.0'] });
    assert.deepEqual(instance(sops[2])['00091010'], { vr: 'LO', Value: ['beta'] }, 'ACME’s element from block 11, not OTHER’s gamma');
    assert.deepEqual(instance(sops[2])['00090010'], { vr: 'LO', Value: ['ACME 1.0'] });
    assert.equal(instance(sops[2])['00091110'], undefined, 'not under the block the instance used');
    assert.equal(instance(sops[1])['00091010'], undefined, 'an instance without ACME has none');
    assert.equal(instance(sops[1])['00090010'], undefined);
  });

  it('matches a private attribute by its Private Creator at every level', async () => {
    const instances = await qido(`/studies/${study}/instances?00090010=ACME 1.0&00091010=beta`);
    assert.deepEqual(
      instances.json.map((i: Json) => value(i, '00080018')),
      [sops[2]],
    );
    assert.deepEqual(instances.json[0]['00091010'], { vr: 'LO', Value: ['beta'] });
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&00090010=ACME 1.0&00091010=beta')).json), [study]);
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&00090010=ACME 1.0&00091010=gamma')).json), [], 'gamma is OTHER’s');
    assert.deepEqual(studies((await qido('/studies?PatientID=DEPTH-1&00090010=OTHER&00091010=gamma')).json), [study]);
  });

  it('returns private attributes only when asked for with their creator', async () => {
    const all = await qido(`/studies/${study}/instances?includefield=all`);
    assert.equal(all.json.length, 3);
    for (const match of all.json) {
      const privates = Object.keys(match).filter((tag) => parseInt(tag.slice(0, 4), 16) % 2 === 1);
      assert.deepEqual(privates, [], 'includefield=all gives no private attribute');
    }
    const missing = await qido(`/studies/${study}/instances?includefield=00091010`);
    assert.equal(missing.status, 400);
    assert.match(missing.json.error.message, /00091010.*Private Creator 00090010/);
    const unmatched = await qido(`/studies/${study}/instances?00091010=beta`);
    assert.equal(unmatched.status, 400);
  });
});

describe('QIDO-RS below the query level: the bound on one search', () => {
  let gw: TestGateway;
  const base = newUid();

  before(async () => {
    gw = await startTestGateway({ limits: { maxQidoScan: 3 } });
    const all = [1, 2, 3, 4, 5].map((n) =>
      syntheticInstance({ studyInstanceUID: `${base}.${n}`, patientID: 'SCAN-1', seriesInstanceUID: `${base}.1${n}`, sopInstanceUID: `${base}.2${n}`, rows: 4, columns: 4, extra: [{ tag: '00081010', vr: 'SH', value: `S${n}` }] }),
    );
    assert.equal((await stow(gw.dicomWebUrl, all)).status, 200);
  });
  after(async () => {
    await gw.stop();
  });

  it('stops after examining maxQidoScan instances and says so in a Warning', async () => {
    const res = await get(`${gw.dicomWebUrl}/studies?PatientID=SCAN-1&StationName=S*`, 'application/dicom+json');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).length, 3);
    assert.match(res.headers.get('warning') ?? '', /examined 3 instances.*limit/);
    const indexed = await get(`${gw.dicomWebUrl}/studies?PatientID=SCAN-1&Rows=4`, 'application/dicom+json');
    assert.equal(JSON.parse(indexed.body.toString()).length, 5, 'an indexed key is no scan');
    assert.equal(indexed.headers.get('warning'), null);
  });
});
