/**
 * QIDO-RS below the query level and private attributes against a subject's view (field masks):
 * a masked attribute must neither be returned nor be usable as a match key that tells, by the
 * studies that come back, what its value is. Private attributes are resolved through their Private
 * Creator whatever block the query names, so a mask on a private tag must hold whatever block the
 * query uses; and matching on instance metadata is over what reading gives, so a mask on `read`
 * alone must hold there too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, stow, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';

const POLICY = `
version: 1
rules:
  - id: clerks-search-read
    subjects: { role: clerk }
    actions: [search, read]
  - id: clerks-no-vendor-id
    effect: deny
    subjects: { role: clerk }
    actions: [search, read]
    fields: ["00091010"]
  - id: clerks-read-no-station
    effect: deny
    subjects: { role: clerk }
    actions: [read]
    fields: [StationName]
`;

describe('QIDO-RS depth and private attributes under a masked view', () => {
  let gateway: TestGateway;
  let policyDir: string;
  const study = newUid();
  const sop = newUid();
  const clerk = { authorization: `Basic ${Buffer.from(`clerk:${PASSWORD}`).toString('base64')}` };

  before(async () => {
    policyDir = await mkdtemp(join(tmpdir(), 'aegis-depth-views-'));
    const policyFile = join(policyDir, 'policy.yaml');
    await writeFile(policyFile, POLICY);
    gateway = await startTestGateway({ auth: { anonymous: { role: 'admin' }, bootstrapAdmin: false }, policy: policyFile });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      await new UserStore(catalog.db).add({ name: 'clerk', role: 'clerk', password: PASSWORD });
    } finally {
      await catalog.close();
    }
    const instance = syntheticInstance({
      studyInstanceUID: study,
      sopInstanceUID: sop,
      patientID: 'MASK-1',
      extra: [
        { tag: '00081010', vr: 'SH', value: 'SECRETSTATION' },
        { tag: '00090010', vr: 'LO', value: 'ACME 1.0' },
        { tag: '00091010', vr: 'LO', value: 'SECRETVENDORID' },
      ],
    });
    assert.equal((await stow(gateway.dicomWebUrl, [instance])).status, 200);
  });
  after(async () => {
    await gateway.stop();
    await rm(policyDir, { recursive: true, force: true });
  });

  const qido = async (path: string) => {
    const res = await get(`${gateway.dicomWebUrl}${path}`, 'application/dicom+json', clerk);
    assert.equal(res.status, 200, `${path}: ${res.body.toString()}`);
    return { body: res.body.toString(), json: JSON.parse(res.body.toString()) as Array<Record<string, any>>, warning: res.headers.get('warning') };
  };
  const studies = (json: Array<Record<string, any>>) => json.map((s) => value(s, '0020000D'));

  it('the masked private attribute is not returned when the query names it in another block', async () => {
    const control = await qido(`/studies/${study}/instances?00090010=ACME 1.0&includefield=00091010`);
    assert.equal(control.json.length, 1);
    assert.ok(!control.body.includes('SECRETVENDORID'), 'named in its own block, the mask holds');
    for (const block of ['11', '20', 'FF']) {
      const res = await qido(`/studies/${study}/instances?0009${block.padStart(4, '0')}=ACME 1.0&includefield=0009${block}10`);
      assert.equal(res.json.length, 1);
      assert.ok(!res.body.includes('SECRETVENDORID'), `block ${block}: ${res.body}`);
      for (const level of [`/studies?PatientID=MASK-1&`, `/studies/${study}/series?`]) {
        const above = await qido(`${level}0009${block.padStart(4, '0')}=ACME 1.0&includefield=0009${block}10`);
        assert.ok(!above.body.includes('SECRETVENDORID'), `${level} block ${block}: ${above.body}`);
      }
    }
  });

  it('the masked private attribute is no match key, in any block (no oracle)', async () => {
    for (const block of ['10', '11', 'FF']) {
      const creator = `0009${block.padStart(4, '0')}=ACME 1.0`;
      const right = await qido(`/studies?PatientID=MASK-1&${creator}&0009${block}10=SECRETVENDORID`);
      const wrong = await qido(`/studies?PatientID=MASK-1&${creator}&0009${block}10=NOTTHEVALUE`);
      assert.deepEqual(studies(right.json), studies(wrong.json), `block ${block}: the right and the wrong value answer alike`);
      assert.match(wrong.warning ?? '', /not allowed in your view/);
    }
  });

  it('an attribute masked for read alone is no match key on instance metadata (no oracle)', async () => {
    const right = await qido('/studies?PatientID=MASK-1&StationName=SECRETSTATION');
    const wrong = await qido('/studies?PatientID=MASK-1&StationName=NOTTHEVALUE');
    assert.deepEqual(studies(right.json), studies(wrong.json), 'the right and the wrong value answer alike');
    assert.deepEqual(studies(wrong.json), [study], 'the key is ignored');
    assert.match(wrong.warning ?? '', /00081010.*not allowed in your view/);
    const prefix = await qido('/studies?PatientID=MASK-1&StationName=SECRET*');
    assert.deepEqual(studies(prefix.json), [study]);
    assert.ok(!prefix.body.includes('SECRETSTATION'));
  });
});
