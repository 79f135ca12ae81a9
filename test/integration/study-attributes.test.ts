/**
 * The policy judges a study by every one of its instances, not by the first: under the default
 * policy, an instance coded confidentiality R added to an open study hides the whole study from
 * research (reads and QIDO alike) until it is deleted; a study whose instances name two
 * institutions is visible to the radiologists of neither (a subject must be allowed for each of its
 * instances); a modality may not add to its institution's study an instance that names another.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';

function basic(name: string): string {
  return `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
}

const AS: Record<string, Record<string, string>> = {
  root: { authorization: basic('root') },
  researcher: { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH' },
  'rad-chu': { authorization: basic('rad-chu') },
  'rad-clinique': { authorization: basic('rad-clinique') },
  'ct-chu': { authorization: basic('ct-chu') },
};

interface Uids {
  study: string;
  series: string;
  sop: string;
}

function instance(uids: Uids, institution: string, confidentiality?: string): Buffer {
  return syntheticInstance({
    studyInstanceUID: uids.study,
    seriesInstanceUID: uids.series,
    sopInstanceUID: uids.sop,
    institutionName: institution,
    rows: 8,
    columns: 8,
    extra: confidentiality ? [{ tag: '00401008', vr: 'LO', value: confidentiality }] : [],
  });
}

describe('study attributes for the policy come from every instance (default policy)', () => {
  let gateway: TestGateway;

  before(async () => {
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false } });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
      await users.add({ name: 'researcher', role: 'research', password: PASSWORD });
      await users.add({ name: 'rad-chu', role: 'radiologist', attributes: { institution: 'CHU' }, password: PASSWORD });
      await users.add({ name: 'rad-clinique', role: 'radiologist', attributes: { institution: 'Clinique' }, password: PASSWORD });
      await users.add({ name: 'ct-chu', role: 'modality', attributes: { institution: 'CHU' }, password: PASSWORD });
    } finally {
      await catalog.close();
    }
  });
  after(() => gateway.stop());

  async function store(who: string, instances: Buffer[]): Promise<{ status: number; json: Record<string, any> }> {
    const { body, contentType } = stowBody(instances);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json', ...AS[who] }, body });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  }

  async function status(who: string, path: string, init: RequestInit = {}): Promise<number> {
    const res = await fetch(`${gateway.dicomWebUrl}${path}`, { ...init, headers: { ...AS[who], ...(init.headers as Record<string, string>) } });
    await res.arrayBuffer();
    return res.status;
  }

  /** The study UIDs QIDO lists to `who` (studies, and the instances of `study`). */
  async function found(who: string, study: string): Promise<{ listed: boolean; instances: number; matched: boolean }> {
    const list = (await (await fetch(`${gateway.dicomWebUrl}/studies?limit=1000`, { headers: AS[who] })).json()) as Array<Record<string, any>>;
    const matched = (await (await fetch(`${gateway.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: AS[who] })).json()) as unknown[];
    const instances = (await (await fetch(`${gateway.dicomWebUrl}/studies/${study}/instances`, { headers: AS[who] })).json()) as unknown[];
    return { listed: list.some((s) => s['0020000D'].Value[0] === study), instances: instances.length, matched: matched.length > 0 };
  }

  it('an instance coded R added to an open study hides the study from research, in reads and in QIDO, until it is deleted', async () => {
    const open: Uids = { study: newUid(), series: newUid(), sop: newUid() };
    const restricted: Uids = { ...open, series: newUid(), sop: newUid() };
    assert.equal((await store('root', [instance(open, 'CHU', 'N')])).status, 200);
    assert.equal(await status('researcher', `/studies/${open.study}/metadata`), 200, 'before: the study is open to research');
    assert.deepEqual(await found('researcher', open.study), { listed: true, instances: 1, matched: true });

    assert.equal((await store('root', [instance(restricted, 'CHU', 'R')])).status, 200);
    for (const path of [
      `/studies/${open.study}/metadata`,
      `/studies/${open.study}/series/${open.series}/metadata`,
      `/studies/${open.study}/series/${open.series}/instances/${open.sop}/metadata`,
      `/studies/${open.study}/series/${open.series}/instances/${open.sop}`,
      `/studies/${open.study}/series/${restricted.series}/instances/${restricted.sop}/metadata`,
    ]) {
      assert.equal(await status('researcher', path, { headers: { accept: path.endsWith('metadata') ? 'application/dicom+json' : 'multipart/related; type="application/dicom"; transfer-syntax=*' } }), 404, `after: ${path}`);
    }
    assert.deepEqual(await found('researcher', open.study), { listed: false, instances: 0, matched: false }, 'after: QIDO finds nothing of it');
    assert.equal(await status('rad-chu', `/studies/${open.study}/metadata`), 200, 'its institution still reads it');

    assert.equal(await status('root', `/studies/${open.study}/series/${restricted.series}`, { method: 'DELETE' }), 204);
    assert.equal(await status('researcher', `/studies/${open.study}/metadata`), 200, 'the restricted instance deleted: open again');
    assert.deepEqual(await found('researcher', open.study), { listed: true, instances: 1, matched: true });
  });

  it('a study whose instances name two institutions is visible to neither institution alone, and to research', async () => {
    const mixed: Uids = { study: newUid(), series: newUid(), sop: newUid() };
    const second: Uids = { ...mixed, sop: newUid() };
    assert.equal((await store('root', [instance(mixed, 'CHU'), instance(second, 'Clinique')])).status, 200);
    for (const who of ['rad-chu', 'rad-clinique']) {
      assert.equal(await status(who, `/studies/${mixed.study}/metadata`), 404, `${who} reads it not`);
      assert.equal(await status(who, `/studies/${mixed.study}/series/${mixed.series}/instances/${mixed.sop}/metadata`), 404, `${who} reads not even its own institution's instance`);
      assert.deepEqual(await found(who, mixed.study), { listed: false, instances: 0, matched: false }, `${who} finds it not`);
    }
    assert.equal(await status('researcher', `/studies/${mixed.study}/metadata`), 200, 'research (no institution condition) reads it');
    assert.equal(await status('root', `/studies/${mixed.study}/metadata`), 200);
  });

  it("a modality may not add an instance naming another institution to its own institution's study", async () => {
    const own: Uids = { study: newUid(), series: newUid(), sop: newUid() };
    assert.equal((await store('ct-chu', [instance(own, 'CHU')])).status, 200, 'its own institution');
    const foreign = await store('ct-chu', [instance({ ...own, sop: newUid() }, 'Clinique')]);
    assert.equal(foreign.status, 409, 'an instance naming another institution is refused');
    assert.equal(foreign.json['00081198'].Value[0]['00081197'].Value[0], 0x0124);
    assert.equal(await status('rad-chu', `/studies/${own.study}/metadata`), 200, "the study stays its institution's");
  });
});
