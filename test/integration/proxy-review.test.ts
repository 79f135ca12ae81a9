/**
 * Proxy mode under attack, against a real Orthanc: a reader whose policy allows one upstream study
 * and denies another tries to reach the denied one through the allowed one's path (series or
 * instance UIDs of the other study under the allowed study's UID) on every read-through route; a
 * study whose study-level description (one instance's, for Orthanc the last stored) differs from
 * its other instances is listed by QIDO only to a subject allowed on every instance, as it is read;
 * and tampered, unsigned or foreign-key tokens are refused on the read-through routes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT, decodeProtectedHeader } from 'jose';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';

const PASSWORD = 'correct horse battery staple';
const basic = (name: string) => `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;

describe('proxy mode: a study allowed does not open the way to another one', () => {
  let orthanc: RunningOrthanc;
  let gw: TestGateway;
  const [mine, theirs] = [newUid(), newUid()];
  const [mySeries, theirSeries] = [newUid(), newUid()];
  const [mySop, theirSop] = [newUid(), newUid()];
  /** A study of two series, the first stored of Elsewhere, the last of Old Hospital; and one whose first stored series is restricted (R). Orthanc describes a study at study level by its last stored instance. */
  const [mixed, restricted] = [newUid(), newUid()];
  before(async () => {
    orthanc = await startOrthanc();
    const stored = [
      syntheticInstance({ studyInstanceUID: mine, seriesInstanceUID: mySeries, sopInstanceUID: mySop, institutionName: 'Old Hospital', patientName: 'Mine^Patient', rows: 16, columns: 16 }),
      syntheticInstance({ studyInstanceUID: theirs, seriesInstanceUID: theirSeries, sopInstanceUID: theirSop, institutionName: 'Elsewhere', patientName: 'Secret^Patient', rows: 16, columns: 16 }),
      syntheticInstance({ studyInstanceUID: mixed, institutionName: 'Elsewhere', patientName: 'Mixed^Patient', rows: 16, columns: 16 }),
      syntheticInstance({ studyInstanceUID: mixed, institutionName: 'Old Hospital', patientName: 'Mixed^Patient', rows: 16, columns: 16 }),
      syntheticInstance({ studyInstanceUID: restricted, institutionName: 'Old Hospital', patientName: 'Vip^Patient', rows: 16, columns: 16, extra: [{ tag: '00401008', vr: 'LO', value: 'R' }] }),
      syntheticInstance({ studyInstanceUID: restricted, institutionName: 'Old Hospital', patientName: 'Vip^Patient', rows: 16, columns: 16 }),
    ];
    for (const bytes of stored) {
      const res = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: bytes });
      assert.equal(res.status, 200, await res.text());
    }
    gw = await startTestGateway({ auth: { bootstrapAdmin: false }, upstream: { url: orthanc.dicomWebUrl, headersTimeoutSeconds: 5 } });
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      await new UserStore(catalog.db).add({ name: 'old-rad', role: 'radiologist', attributes: { institution: 'Old Hospital' }, password: PASSWORD });
      await new UserStore(catalog.db).add({ name: 'researcher', role: 'research', password: PASSWORD });
    } finally {
      await catalog.close();
    }
  });
  after(async () => {
    await gw?.stop();
    await orthanc?.stop();
  });

  it('refuses series and instances of a denied study named under an allowed study', async () => {
    const octets = 'multipart/related; type="application/octet-stream"';
    const paths = [
      [`/studies/${mine}/series/${theirSeries}`, '*/*'],
      [`/studies/${mine}/series/${theirSeries}/metadata`, 'application/dicom+json'],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}`, '*/*'],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}/metadata`, 'application/dicom+json'],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}/frames/1`, octets],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}/bulk/7fe00010`, octets],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}/rendered`, 'image/png'],
      [`/studies/${mine}/series/${theirSeries}/instances/${theirSop}/thumbnail`, 'image/png'],
      [`/studies/${mine}/series/${theirSeries}/rendered`, 'image/png'],
      [`/studies/${mine}/series/${theirSeries}/thumbnail`, 'image/png'],
      [`/studies/${mine}/series/${mySeries}/instances/${theirSop}`, '*/*'],
      [`/studies/${mine}/series/${mySeries}/instances/${theirSop}/metadata`, 'application/dicom+json'],
      [`/studies/${mine}/series/${mySeries}/instances/${theirSop}/rendered`, 'image/png'],
    ];
    const leaks: string[] = [];
    for (const [path, accept] of paths) {
      const res = await fetch(`${gw.dicomWebUrl}${path}`, { headers: { authorization: basic('old-rad'), accept } });
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 404) leaks.push(`${path}: ${res.status} ${body.length} bytes${body.includes('Secret^Patient') ? ' (with the other patient name)' : ''}`);
    }
    assert.deepEqual(leaks, []);
  });

  it('lists an upstream study in a search only to a subject the policy allows on every instance of it, as it reads it', async () => {
    const seen: string[] = [];
    for (const [user, study, headers] of [
      ['old-rad', mixed, {}],
      ['researcher', restricted, { 'x-purpose-of-use': 'HRESCH' }],
    ] as const) {
      const read = await fetch(`${gw.dicomWebUrl}/studies/${study}/metadata`, { headers: { authorization: basic(user), ...headers } });
      await read.arrayBuffer();
      const found = await fetch(`${gw.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: { authorization: basic(user), accept: 'application/dicom+json', ...headers } });
      const text = await found.text();
      seen.push(`${user}: read ${read.status}, search ${found.status} ${(JSON.parse(text || '[]') as unknown[]).length} result(s)`);
    }
    assert.deepEqual(seen, ['old-rad: read 404, search 200 0 result(s)', 'researcher: read 404, search 200 0 result(s)']);
  });

  it('refuses a tampered, unsigned or foreign-key token on every read-through route, as it refuses no token', async () => {
    const res = await fetch(`${gw.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username: 'old-rad', password: PASSWORD }) });
    assert.equal(res.status, 200);
    const good = ((await res.json()) as { access_token: string }).access_token;
    const [header, payload, signature] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const { privateKey } = await generateKeyPair('ES256');
    const protectedHeader = decodeProtectedHeader(good);
    const tokens = {
      tampered: `${header}.${b64({ ...claims, sub: 'root', role: 'admin', exp: Number(claims.exp) + 3600 })}.${signature}`,
      unsigned: `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      foreignKey: await new SignJWT(claims).setProtectedHeader({ ...protectedHeader, alg: 'ES256' }).sign(privateKey),
      none: undefined,
    };
    const instance = `/studies/${mine}/series/${mySeries}/instances/${mySop}`;
    const paths = [`/studies/${mine}/metadata`, `${instance}/frames/1`, `${instance}/bulk/7fe00010`, `${instance}/rendered`, `/studies/${mine}/thumbnail`, `${instance}/thumbnail`, `/studies?PatientName=Mine*`];
    const answers: string[] = [];
    for (const [name, token] of Object.entries(tokens)) {
      for (const path of paths) {
        const answer = await fetch(`${gw.dicomWebUrl}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
        const body = await answer.text();
        answers.push(`${name} ${path}: ${answer.status}${body.includes('Mine^Patient') ? ' (with the patient name)' : ''}`);
      }
    }
    assert.deepEqual(
      answers,
      Object.keys(tokens).flatMap((name) => paths.map((path) => `${name} ${path}: 401`)),
    );
    const allowed = await fetch(`${gw.dicomWebUrl}/studies/${mine}/metadata`, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(allowed.status, 200, 'the token as issued is accepted');
    await allowed.arrayBuffer();
  });
});
