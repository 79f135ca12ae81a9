/**
 * Issue 4, acceptance 3: under the default policy, a `research` user (purpose HRESCH) receives
 * metadata and instances with no patient-identifying values, while a treating radiologist of the
 * instance's own institution receives them exactly as stored. Identity values and pixel hashes are
 * read from the ORIGINAL files by pydicom (test/support/pydicom-identity.py), not by Aegis.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { keywordForTag } from '../../gateway/dicom/dictionary.js';
import { parseInstance } from '../../gateway/dicom/parse.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { comparableJson, readNativeXml } from '../support/native-xml.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
/**
 * Files with an InstitutionName (so a radiologist of that institution exists), distinct SOP Instance
 * UIDs, and a study of their own (the policy decides per study, on its first instance's institution).
 */
const FILES = ['CT_small.dcm', 'ExplVR_BigEnd.dcm', 'JPEG2000.dcm', 'MR_small.dcm', 'rtplan.dcm', 'waveform_ecg.dcm'];
const PASSWORD = 'correct horse battery staple';
const SCRIPT = fileURLToPath(new URL('../support/pydicom-identity.py', import.meta.url));

interface PydicomView {
  identity: Array<{ keyword: string; value: string }>;
  uids: string[];
  /** Text values of attributes not in the identity list (e.g. Manufacturer). */
  kept: string[];
  identityRemoved: string;
  pixelSha256: string | null;
  error?: string;
}

function pydicom(paths: string[]): Record<string, PydicomView> {
  const run = spawnSync('/usr/bin/python3', [SCRIPT], { input: paths.join('\n'), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, `pydicom-identity.py: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, PydicomView>;
}

function basic(name: string): string {
  return `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
}

/** The one instance of a WADO-RS instance response. */
async function retrieveInstance(url: string, headers: Record<string, string>): Promise<{ status: number; bytes?: Buffer }> {
  const res = await fetch(url, { headers: { ...headers, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
  if (res.status !== 200) {
    await res.arrayBuffer();
    return { status: res.status };
  }
  const parts = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
  assert.equal(parts.length, 1, 'one part');
  return { status: 200, bytes: parts[0].bytes };
}

describe('research view versus treating radiologist (default policy)', () => {
  let gateway: TestGateway;
  let scratch: string;
  const originals = new Map<string, Buffer>();
  const urls = new Map<string, { instance: string; metadata: string }>();
  let truth: Record<string, PydicomView>;
  const radiologistOf = new Map<string, string>();

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'aegis-research-'));
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false } });
    truth = pydicom(FILES.map((f) => join(SAMPLES, f)));
    const institutions = new Set<string>();
    for (const file of FILES) {
      originals.set(file, await readFile(join(SAMPLES, file)));
      const institution = truth[join(SAMPLES, file)].identity.find((i) => i.keyword === 'InstitutionName')?.value;
      assert.ok(institution, `${file} has an InstitutionName`);
      institutions.add(institution);
    }
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
      await users.add({ name: 'researcher', role: 'research', attributes: { project: 'lung-ai' }, password: PASSWORD });
      let n = 0;
      for (const institution of institutions) {
        const name = `rad-${++n}`;
        await users.add({ name, role: 'radiologist', attributes: { institution }, password: PASSWORD });
        radiologistOf.set(institution, name);
      }
    } finally {
      await catalog.close();
    }
    const { body, contentType } = stowBody([...originals.values()]);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('root'), accept: 'application/dicom+json' }, body });
    const json = (await res.json()) as Record<string, any>;
    assert.equal(res.status, 200, `all stored: ${JSON.stringify(json['00081198'] ?? '')}`);
    FILES.forEach((file, i) => {
      const instance = json['00081199'].Value[i]['00081190'].Value[0] as string;
      urls.set(file, { instance, metadata: `${instance}/metadata` });
    });
  });
  after(async () => {
    await gateway.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('the radiologist of the institution gets every instance byte-identical and its metadata as stored', async () => {
    for (const file of FILES) {
      const institution = truth[join(SAMPLES, file)].identity.find((i) => i.keyword === 'InstitutionName')!.value;
      const rad = basic(radiologistOf.get(institution)!);
      const got = await retrieveInstance(urls.get(file)!.instance, { authorization: rad });
      assert.equal(got.status, 200, `${file}: the radiologist of ${institution} exports it`);
      assert.ok(got.bytes!.equals(originals.get(file)!), `${file}: byte-identical to the original`);
      const [mine, admins] = await Promise.all([rad, basic('root')].map(async (authorization) => (await fetch(urls.get(file)!.metadata, { headers: { authorization } })).text()));
      assert.equal(mine, admins, `${file}: metadata unchanged`);
      for (const { value } of truth[join(SAMPLES, file)].identity.filter((i) => i.keyword === 'PatientName')) {
        assert.ok(mine.includes(value.split('^')[0]), `${file}: the radiologist sees the patient's name`);
      }
      const other = [...radiologistOf.entries()].find(([i]) => i !== institution)![1];
      assert.equal((await fetch(urls.get(file)!.metadata, { headers: { authorization: basic(other) } })).status, 404, `${file}: a radiologist of another institution does not`);
    }
  });

  it('the researcher gets metadata and instances without any identity value of the original, pixels unchanged', async () => {
    const research = { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH' };
    const written: string[] = [];
    for (const file of FILES) {
      const got = await retrieveInstance(urls.get(file)!.instance, research);
      assert.equal(got.status, 200, `${file}: the researcher exports it`);
      assert.ok(!got.bytes!.equals(originals.get(file)!), `${file}: a derived instance`);
      const path = join(scratch, file);
      await writeFile(path, got.bytes!);
      written.push(path);
    }
    const derived = pydicom(written);
    let checked = 0;
    for (const file of FILES) {
      const original = truth[join(SAMPLES, file)];
      const view = derived[join(scratch, file)];
      assert.equal(view.error, undefined, `${file}: pydicom reads the de-identified instance`);
      assert.equal(view.identityRemoved, 'YES', `${file}: PatientIdentityRemoved`);
      assert.equal(view.pixelSha256, original.pixelSha256, `${file}: Pixel Data unchanged`);
      const bytes = (await readFile(join(scratch, file))).toString('latin1');
      const metadata = await (await fetch(urls.get(file)!.metadata, { headers: research })).text();
      assert.ok(metadata.includes('"00120062":{"vr":"CS","Value":["YES"]}'), `${file}: the metadata says identity was removed`);
      // Values that also occur inside a UID (dates in UIDs) stay with the UID (Retain UIDs Option);
      // values within a kept attribute's (InstitutionName 'TOSHIBA' in Manufacturer 'TOSHIBA_MEC') stay with it.
      const identity = original.identity.filter(({ value }) => !original.uids.some((uid) => uid.includes(value)) && !original.kept.some((kept) => kept.includes(value)));
      assert.ok(
        identity.some((i) => i.keyword === 'PatientName' || i.keyword === 'PatientID'),
        `${file}: the original has identity to remove`,
      );
      for (const { keyword, value } of identity) {
        if (value === 'ANONYMOUS' || value === 'Anonymized' || value === 'Anonymous') continue; // already a dummy in the original
        assert.ok(!bytes.includes(value), `${file}: the research instance still holds ${keyword} '${value}'`);
        assert.ok(!metadata.includes(JSON.stringify(value).slice(1, -1)), `${file}: the research metadata still holds ${keyword} '${value}'`);
        checked++;
      }
    }
    assert.ok(checked >= 40, `checked ${checked} identity values`);
  });

  it('metadata as dicom+xml follows the same decisions: the researcher’s is the de-identified JSON, another institution gets 404', async () => {
    const research = { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH' };
    const xml = 'multipart/related; type="application/dicom+xml"';
    for (const file of FILES) {
      const url = urls.get(file)!.metadata;
      const [json] = (await (await fetch(url, { headers: research })).json()) as Array<Record<string, any>>;
      const res = await fetch(url, { headers: { ...research, accept: xml } });
      assert.equal(res.status, 200, file);
      const parts = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      assert.equal(parts.length, 1, `${file}: one part`);
      assert.deepEqual(readNativeXml(parts[0].bytes.toString('utf8')).dataset, comparableJson(json, keywordForTag), `${file}: the XML is the researcher's JSON`);
      assert.ok(parts[0].bytes.toString('utf8').includes('keyword="PatientIdentityRemoved"><Value number="1">YES</Value>'), `${file}: identity removed`);
      const institution = truth[join(SAMPLES, file)].identity.find((i) => i.keyword === 'InstitutionName')!.value;
      const other = [...radiologistOf.entries()].find(([i]) => i !== institution)![1];
      assert.equal((await fetch(url, { headers: { authorization: basic(other), accept: xml } })).status, 404, `${file}: not for another institution`);
    }
  });

  it('the researcher finds studies but cannot match on identity, and gets no results for treatment', async () => {
    const research = { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH' };
    const all = (await (await fetch(`${gateway.dicomWebUrl}/studies`, { headers: research })).json()) as Array<Record<string, any>>;
    assert.ok(all.length >= 5, 'the studies are listed');
    const text = JSON.stringify(all);
    for (const file of FILES) {
      for (const { keyword, value } of truth[join(SAMPLES, file)].identity.filter((i) => ['PatientName', 'PatientID', 'InstitutionName', 'ReferringPhysicianName'].includes(i.keyword))) {
        if (['Anonymized', 'Anonymous'].includes(value)) continue;
        assert.ok(!text.includes(JSON.stringify(value).slice(1, -1)), `QIDO shows no ${keyword} '${value}'`);
      }
    }
    const byName = await fetch(`${gateway.dicomWebUrl}/studies?PatientName=CompressedSamples*`, { headers: research });
    assert.match(byName.headers.get('warning') ?? '', /00100010.*not allowed/, 'matching on PatientName is ignored with a warning');
    assert.equal(((await byName.json()) as unknown[]).length, all.length, 'and tells nothing: the same results as without it');
    const byInstitution = await fetch(`${gateway.dicomWebUrl}/studies?InstitutionName=Z*&includefield=InstitutionName,StationName`, { headers: research });
    assert.match(byInstitution.headers.get('warning') ?? '', /00080080.*not allowed/, 'matching on an instance’s InstitutionName is ignored with a warning');
    const shown = (await byInstitution.json()) as unknown[];
    assert.equal(shown.length, all.length, 'and tells nothing');
    for (const file of FILES) {
      const institution = truth[join(SAMPLES, file)].identity.find((i) => i.keyword === 'InstitutionName')!.value;
      assert.ok(!JSON.stringify(shown).includes(JSON.stringify(institution).slice(1, -1)), `includefield=InstitutionName from an instance shows no '${institution}'`);
    }
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { authorization: basic('researcher') } })).status, 403, 'no search for treatment');
  });

  it('the researcher taking the default transfer syntax gets the JPEG 2000 instance de-identified, then transcoded: still no identity value', async () => {
    const file = 'JPEG2000.dcm';
    const res = await fetch(urls.get(file)!.instance, { headers: { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH', accept: 'multipart/related; type="application/dicom"' } });
    assert.equal(res.status, 200);
    const [part] = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    assert.equal(part.headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    const parsed = parseInstance(part.bytes);
    assert.equal(parsed.transferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.equal(parsed.pixelData?.encapsulated, false, 'decoded Pixel Data');
    assert.deepEqual(parsed.metadata['00120062'], { vr: 'CS', Value: ['YES'] });
    const original = truth[join(SAMPLES, file)];
    const text = part.bytes.toString('latin1');
    const identity = original.identity.filter(({ value }) => !original.uids.some((uid) => uid.includes(value)) && !original.kept.some((kept) => kept.includes(value)));
    assert.ok(identity.length >= 3, 'identity values to look for');
    for (const { keyword, value } of identity) assert.ok(!text.includes(value), `the transcoded research instance still holds ${keyword} '${value}'`);
  });
});
