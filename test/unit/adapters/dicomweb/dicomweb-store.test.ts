/**
 * The `dicomweb` adapter: the shared FragmentStore contract against a real Orthanc with its
 * DICOMweb plugin (started once for this file), plus what only a PACS shows: the fragment travels
 * in a DICOM instance Orthanc indexes, with derived UIDs (idempotent puts), a presentation instance
 * the caller built, and an instance deleted or replaced inside the PACS behind the adapter's back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import dcmjs from 'dcmjs';
import { DICOMWEB_CAPABILITIES, DicomwebFragmentStore } from '../../../../adapters/dicomweb/dicomweb-store.js';
import { fragmentContainer, PRIVATE_CREATOR, RAW_DATA_STORAGE } from '../../../../adapters/dicomweb/fragment-instance.js';
import { runFragmentStoreSuite } from '../../../contract/fragment-store.suite.js';
import { stow, retrieveAsStored } from '../../../support/dicomweb.js';
import { expectCode } from '../../../support/fragment-stores.js';
import { startOrthanc, type RunningOrthanc } from '../../../support/orthanc.js';
import { freePort } from '../../../support/ports.js';

let orthanc: RunningOrthanc;
let cases = 0;

before(async () => {
  orthanc = await startOrthanc();
});
after(async () => {
  await orthanc?.stop();
});

function pacsStore(options: { url?: string; timeoutMs?: number; orthancUrl?: string | null; uidSalt?: string } = {}): DicomwebFragmentStore {
  return new DicomwebFragmentStore({
    name: 'pacs',
    url: options.url ?? orthanc.dicomWebUrl,
    orthancUrl: options.orthancUrl === null ? undefined : (options.orthancUrl ?? orthanc.url),
    // Each case its own salt: its instances are its own, whatever keys other cases used.
    uidSalt: options.uidSalt ?? `case-${++cases}-${randomBytes(3).toString('hex')}`,
    timeoutMs: options.timeoutMs,
  });
}

runFragmentStoreSuite('dicomweb', {
  capabilities: DICOMWEB_CAPABILITIES,
  async create() {
    return { store: pacsStore(), cleanup: async () => undefined };
  },
  unresponsive(endpoint, timeoutMs) {
    return pacsStore({ url: `${endpoint.url}/dicom-web`, orthancUrl: endpoint.url, timeoutMs });
  },
  unusedLocator: '2.25.1/2.25.2/2.25.3',
});

/** Orthanc's REST answer as JSON. */
async function rest(path: string, init?: RequestInit): Promise<any> {
  const response = await fetch(`${orthanc.url}${path}`, init);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return response.json();
}

function uidsOf(locator: string) {
  const [study, series, instance] = locator.split('/');
  return { study, series, instance };
}

describe('DicomwebFragmentStore (dicomweb-specific)', () => {
  it('a fragment is a Raw Data Storage instance Orthanc indexes, with no identity and the fragment in the AEGIS FRAGMENT block', async () => {
    const store = pacsStore();
    const fragment = randomBytes(1001);
    const ref = await store.put('f/ab/x.0', fragment);
    const uids = uidsOf(ref.locator);
    const [found] = await rest('/tools/lookup', { method: 'POST', body: uids.instance });
    assert.equal(found.Type, 'Instance');
    const tags = await rest(`/instances/${found.ID}/tags?short`);
    assert.equal(tags['0008,0016'], RAW_DATA_STORAGE);
    assert.equal(tags['0020,000d'], uids.study);
    assert.equal(tags['0009,0010'], PRIVATE_CREATOR);
    assert.equal(tags['0010,0010'], '');
    assert.equal(tags['0010,0020'], '');
    const stored = Buffer.from(await (await fetch(`${orthanc.url}/instances/${found.ID}/file`)).arrayBuffer());
    const parsed = dcmjs.data.DicomMessage.readFile(stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.length) as ArrayBuffer);
    assert.deepEqual(Buffer.from(parsed.dict['00091000'].Value[0] as ArrayBuffer).subarray(0, 1001), fragment);
    assert.equal(parsed.dict['00091001'].Value[0], 1001);
    await store.close();
  });

  it('a put of the same bytes under the same key is idempotent; other bytes are another instance in the same series', async () => {
    const store = pacsStore();
    const fragment = randomBytes(300);
    const a = await store.put('k', fragment);
    const b = await store.put('k', Buffer.from(fragment));
    assert.equal(b.locator, a.locator);
    const c = await store.put('k', randomBytes(300));
    assert.notEqual(c.locator, a.locator);
    assert.equal(uidsOf(c.locator).series, uidsOf(a.locator).series);
    const other = pacsStore({ uidSalt: 'another-backend' });
    assert.notEqual((await other.put('k', fragment)).locator, a.locator, 'another salt, other UIDs');
    await store.close();
  });

  it('a presentation instance is stored as built, with the fragment added to it', async () => {
    const store = pacsStore();
    const uids = { study: '2.25.1001', series: '2.25.1002', instance: `2.25.${BigInt(`0x${randomBytes(12).toString('hex')}`)}` };
    const presentation = fragmentContainer(Buffer.from('not this one'), uids);
    const fragment = randomBytes(777);
    const ref = await store.put('f/cd/y.0', fragment, { presentation });
    assert.equal(ref.locator, `${uids.study}/${uids.series}/${uids.instance}`);
    assert.deepEqual(await store.get(ref.locator), fragment);
    await expectCode(store.put('bad', fragment, { presentation: Buffer.from('no DICOM') }), 'BAD_REQUEST');
    await store.close();
  });

  it('an instance replaced inside the PACS by one without the fragment block is NOT_FOUND, never other bytes', async () => {
    const store = pacsStore();
    const ref = await store.put('k', randomBytes(500));
    const uids = uidsOf(ref.locator);
    const [found] = await rest('/tools/lookup', { method: 'POST', body: uids.instance });
    assert.equal((await fetch(`${orthanc.url}/instances/${found.ID}`, { method: 'DELETE' })).status, 200);
    const [original] = await retrieveAsStored(`${orthanc.dicomWebUrl}/studies/${uids.study}`).catch(() => [undefined]);
    assert.equal(original, undefined);
    // The same UIDs, no AEGIS FRAGMENT block.
    const impostor = new dcmjs.data.DicomDict({
      '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
      '00020002': { vr: 'UI', Value: [RAW_DATA_STORAGE] },
      '00020003': { vr: 'UI', Value: [uids.instance] },
      '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] },
    });
    impostor.dict = { '00080016': { vr: 'UI', Value: [RAW_DATA_STORAGE] }, '00080018': { vr: 'UI', Value: [uids.instance] }, '0020000D': { vr: 'UI', Value: [uids.study] }, '0020000E': { vr: 'UI', Value: [uids.series] } };
    assert.equal((await stow(orthanc.dicomWebUrl, [new Uint8Array(impostor.write())])).status, 200);
    assert.equal(await store.has(ref.locator), true);
    const error = await expectCode(store.get(ref.locator), 'NOT_FOUND');
    assert.match(error.message, /carries no intact fragment/);
    await expectCode(store.stream(ref.locator), 'NOT_FOUND');
    await store.close();
  });

  it('without orthancUrl a delete is DICOMweb DELETE, which Orthanc refuses: UNSUPPORTED, and the fragment stays', async () => {
    const store = pacsStore({ orthancUrl: null });
    const ref = await store.put('k', randomBytes(10));
    await expectCode(store.delete(ref.locator), 'UNSUPPORTED');
    assert.equal(await store.has(ref.locator), true);
    await store.close();
  });

  it('a locator that is not three UIDs is BAD_REQUEST from every call, before the server is asked', async () => {
    const store = pacsStore({ url: `http://127.0.0.1:${await freePort()}/dicom-web` });
    for (const locator of ['f/ab/x.0', '1.2/3.4', '1.2/3.4/5.6/7.8', '1.2/03.4/5.6', '../1.2/3/4', '', `1.2/3.4/${'1'.repeat(65)}`]) {
      await expectCode(store.get(locator), 'BAD_REQUEST');
      await expectCode(store.stream(locator), 'BAD_REQUEST');
      await expectCode(store.has(locator), 'BAD_REQUEST');
      await expectCode(store.delete(locator), 'BAD_REQUEST');
    }
    await store.close();
  });

  it('a refused connection is BACKEND_UNAVAILABLE from every call', async () => {
    const store = pacsStore({ url: `http://127.0.0.1:${await freePort()}/dicom-web`, orthancUrl: `http://127.0.0.1:${await freePort()}` });
    const error = await expectCode(store.put('k', Buffer.from('x')), 'BACKEND_UNAVAILABLE');
    assert.match(error.message, /ECONNREFUSED/);
    await expectCode(store.get('1.2/3.4/5.6'), 'BACKEND_UNAVAILABLE');
    await expectCode(store.has('1.2/3.4/5.6'), 'BACKEND_UNAVAILABLE');
    await expectCode(store.delete('1.2/3.4/5.6'), 'BACKEND_UNAVAILABLE');
    await expectCode(store.check(), 'BACKEND_UNAVAILABLE');
    await store.close();
  });

  it('a server that wants credentials gets the configured Authorization header; without it, BACKEND_UNAVAILABLE (401)', async () => {
    const guarded = await startOrthanc({ config: { AuthenticationEnabled: true, RegisteredUsers: { aegis: 'pacs-password' } } });
    try {
      const open = (authorization?: string) => new DicomwebFragmentStore({ name: 'guarded', url: guarded.dicomWebUrl, orthancUrl: guarded.url, uidSalt: 'guarded', authorization });
      const store = open(`Basic ${Buffer.from('aegis:pacs-password').toString('base64')}`);
      const fragment = randomBytes(64);
      const ref = await store.put('k', fragment);
      assert.deepEqual(await store.get(ref.locator), fragment);
      await store.check();
      const error = await expectCode(open().get(ref.locator), 'BACKEND_UNAVAILABLE');
      assert.match(error.message, /answered 401/);
      await expectCode(open(`Basic ${Buffer.from('aegis:wrong').toString('base64')}`).put('k2', fragment), 'BACKEND_UNAVAILABLE');
      assert.equal(await store.delete(ref.locator), true);
    } finally {
      await guarded.stop();
    }
  });
});
