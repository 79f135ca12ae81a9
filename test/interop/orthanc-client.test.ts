/**
 * Orthanc (Debian's 1.10 with its DICOMweb plugin) as a DICOMweb client of Aegis: Aegis is a
 * remote server in Orthanc's configuration, with HTTP Basic credentials, and Orthanc's own REST
 * API stores into it (`/dicom-web/servers/aegis/stow`: a 73-character multipart boundary),
 * queries it (`.../qido`) and retrieves from it (`.../retrieve`, which imports what Aegis sends
 * into Orthanc). What Orthanc gets back is byte-identical to what it sent.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { retrieveAsStored } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';

const USER = 'orthanc';
const PASSWORD = 'a long passphrase for the modality';

describe('Orthanc as a DICOMweb client of Aegis', { timeout: 120_000 }, () => {
  let aegis: TestGateway;
  let orthanc: RunningOrthanc;
  const study = newUid();
  const series = newUid();
  const sops = [newUid(), newUid()];
  const instances = sops.map((sop, i) => Buffer.from(syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, instanceNumber: i + 1, rows: 16, columns: 16, seed: i + 1, patientName: 'Client^Orthanc' })));
  const authorization = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

  before(async () => {
    aegis = await startTestGateway({ auth: { bootstrapAdmin: false } });
    const catalog = await Catalog.openSqlite(join(aegis.dataDir, 'catalog.sqlite'));
    try {
      await new UserStore(catalog.db).add({ name: USER, role: 'admin', attributes: {}, password: PASSWORD });
    } finally {
      await catalog.close();
    }
    orthanc = await startOrthanc({ config: { DicomWeb: { Enable: true, Root: '/dicom-web/', Servers: { aegis: { Url: `${aegis.dicomWebUrl}/`, Username: USER, Password: PASSWORD } } } } });
  });
  after(async () => {
    await orthanc?.stop();
    await aegis?.stop();
  });

  /** A call of Orthanc's REST API; JSON in and out. */
  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${orthanc.url}${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
  }

  it('stores into Aegis through /dicom-web/servers/aegis/stow, byte-identical, with authentication on', async () => {
    const ids: string[] = [];
    for (const bytes of instances) {
      const res = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: bytes });
      assert.equal(res.status, 200);
      ids.push(((await res.json()) as { ID: string }).ID);
    }
    const stow = await rest('POST', '/dicom-web/servers/aegis/stow', { Resources: ids, Synchronous: true });
    assert.equal(stow.status, 200, `${JSON.stringify(stow.json)}\n${orthanc.log().slice(-2000)}`);
    const unauthenticated = await fetch(`${aegis.dicomWebUrl}/studies/${study}/metadata`);
    assert.equal(unauthenticated.status, 401, 'Aegis asks for credentials');
    for (const [i, sop] of sops.entries()) {
      const url = `${aegis.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`;
      const parts = await retrieveAsStored(url, { Authorization: authorization });
      assert.equal(parts.length, 1);
      assert.ok(parts[0].bytes.equals(instances[i]), `instance ${i + 1} stored byte-identical`);
    }
  });

  it('queries Aegis through /dicom-web/servers/aegis/qido', async () => {
    const studies = await rest('POST', '/dicom-web/servers/aegis/qido', { Uri: '/studies', Arguments: { StudyInstanceUID: study } });
    assert.equal(studies.status, 200, JSON.stringify(studies.json));
    assert.equal(studies.json.length, 1);
    assert.equal(tagValue(studies.json[0], '0020000D'), study);
    const found = await rest('POST', '/dicom-web/servers/aegis/qido', { Uri: `/studies/${study}/series/${series}/instances` });
    assert.equal(found.status, 200, JSON.stringify(found.json));
    assert.deepEqual(found.json.map((m: any) => tagValue(m, '00080018')).sort(), [...sops].sort());
    for (const match of found.json) assert.equal(tagValue(match, '0020000E'), series, 'the parent series UID in every result');
  });

  it('retrieves from Aegis through /dicom-web/servers/aegis/retrieve into Orthanc, byte-identical', async () => {
    // Orthanc forgets its own copies first: what it has afterwards came from Aegis.
    const studies = (await rest('GET', '/studies')).json as string[];
    for (const id of studies) assert.equal((await rest('DELETE', `/studies/${id}`)).status, 200);
    assert.deepEqual((await rest('GET', '/instances')).json, []);
    const retrieve = await rest('POST', '/dicom-web/servers/aegis/retrieve', { Resources: [{ Study: study }], Synchronous: true });
    assert.equal(retrieve.status, 200, `${JSON.stringify(retrieve.json)}\n${orthanc.log().slice(-2000)}`);
    const ids = (await rest('GET', '/instances')).json as string[];
    assert.equal(ids.length, instances.length, 'every instance imported into Orthanc');
    const files = await Promise.all(ids.map(async (id) => Buffer.from(await (await fetch(`${orthanc.url}/instances/${id}/file`)).arrayBuffer())));
    for (const bytes of instances)
      assert.ok(
        files.some((file) => file.equals(bytes)),
        'Orthanc holds exactly the bytes it stored into Aegis',
      );
  });
});

/** A value of a QIDO answer as Orthanc reformats it (`{ Name, Type, Value }`, the value a string), or in the DICOM JSON model. */
function tagValue(match: Record<string, { Value?: unknown }>, tag: string): unknown {
  const value = match[tag]?.Value;
  return Array.isArray(value) ? value[0] : value;
}
