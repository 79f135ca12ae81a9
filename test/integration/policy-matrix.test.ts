/**
 * The access policy over real HTTP (issue 4, acceptance 2): five roles x five actions (search,
 * read, export, create, delete) x studies of two institutions, with purposes of use, a restricted
 * study, break-glass, and QIDO paging. What each subject may do is written down independently of
 * the policy engine (the `expected` oracle below, from the policy text), then every cell is asked
 * through the gateway's HTTP interface and the audit trail is checked for the decisions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';

const POLICY = `
version: 1
denied: not-found
breakGlass:
  subjects: { role: physician }
  maxMinutes: 30
rules:
  - id: radiologist-own-institution
    subjects: { role: radiologist }
    actions: [search, read, export]
    resources: { institution: "\${subject.institution}" }
    environment: { purpose: [TREAT, ETREAT] }
  - id: physician-own-department
    subjects: { role: physician }
    actions: [search, read]
    resources: { institution: "\${subject.institution}", department: "\${subject.department}" }
    environment: { purpose: TREAT }
  - id: physician-emergency
    subjects: { role: physician }
    actions: [search, read]
    environment: { breakGlass: true }
  - id: modality-stores-own-institution
    subjects: { role: modality }
    actions: create
    resources: { institution: "\${subject.institution}" }
  - id: archivist-cleans-own-institution
    subjects: { role: archivist }
    actions: [search, delete]
    resources: { institution: "\${subject.institution}" }
  - id: research-deidentified
    subjects: { role: research }
    actions: [search, read, export]
    environment: { purpose: HRESCH }
    view: deidentified
  - id: research-never-restricted
    effect: deny
    subjects: { role: research }
    actions: [search, read, export]
    resources: { confidentiality: R }
  - id: radiologist-reads-no-manufacturer
    effect: deny
    subjects: { role: radiologist }
    actions: read
    fields: [Manufacturer]
`;

/** Roles with a search rule: the others get 403 for any QIDO. */
const ROLES_THAT_SEARCH = ['radiologist', 'physician', 'archivist', 'research'];

type Action = 'search' | 'read' | 'export' | 'create' | 'delete';

interface Study {
  uid: string;
  series: string;
  instance: string;
  institution: string;
  department: string;
  confidentiality?: string;
}

interface Person {
  name: string;
  role: string;
  attributes: Record<string, string>;
  purpose?: string;
}

const PEOPLE: Person[] = [
  { name: 'rad-mary', role: 'radiologist', attributes: { institution: 'St Mary' } },
  { name: 'rad-general', role: 'radiologist', attributes: { institution: 'General' } },
  { name: 'phys-mary-card', role: 'physician', attributes: { institution: 'St Mary', department: 'CARDIOLOGY' } },
  { name: 'ct-mary', role: 'modality', attributes: { institution: 'St Mary' } },
  { name: 'arch-general', role: 'archivist', attributes: { institution: 'General' } },
  { name: 'researcher', role: 'research', attributes: {}, purpose: 'HRESCH' },
];

/** The oracle: the policy above, read by a person. */
function expected(person: Person, action: Action, study: Study, purpose = person.purpose ?? 'TREAT', breakGlass = false): boolean {
  const own = study.institution === person.attributes.institution;
  switch (person.role) {
    case 'radiologist':
      return ['search', 'read', 'export'].includes(action) && own && ['TREAT', 'ETREAT'].includes(purpose);
    case 'physician':
      if (['search', 'read'].includes(action) && breakGlass) return true;
      return ['search', 'read'].includes(action) && own && study.department === person.attributes.department && purpose === 'TREAT';
    case 'modality':
      return action === 'create' && own;
    case 'archivist':
      return ['search', 'delete'].includes(action) && own;
    case 'research':
      return ['search', 'read', 'export'].includes(action) && purpose === 'HRESCH' && study.confidentiality !== 'R';
    default:
      return false;
  }
}

function basic(name: string): string {
  return `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
}

function instanceOf(study: Study, sop = study.instance): Buffer {
  return syntheticInstance({
    studyInstanceUID: study.uid,
    seriesInstanceUID: study.series,
    sopInstanceUID: sop,
    institutionName: study.institution,
    patientName: `Patient^${study.uid.slice(-6)}`,
    patientID: `PID-${study.uid.slice(-6)}`,
    extra: [{ tag: '00081040', vr: 'LO', value: study.department }, ...(study.confidentiality ? [{ tag: '00401008', vr: 'LO', value: study.confidentiality }] : [])],
  });
}

async function stowAs(gateway: TestGateway, authorization: string, instances: Buffer[]) {
  const { body, contentType } = stowBody(instances);
  const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization }, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/** Every study UID QIDO returns to `person`, page by page with `limit`; checks each page's size. */
async function searchAll(gateway: TestGateway, person: Person, limit: number, purpose?: string): Promise<{ status: number; pages: string[][] }> {
  const pages: string[][] = [];
  for (let offset = 0; ; offset += limit) {
    const res = await fetch(`${gateway.dicomWebUrl}/studies?limit=${limit}&offset=${offset}`, { headers: headersOf(person, purpose) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return { status: res.status, pages };
    }
    const page = ((await res.json()) as Array<Record<string, any>>).map((m) => m['0020000D'].Value[0] as string);
    assert.ok(page.length <= limit, `a page holds at most ${limit}`);
    if (page.length === 0) return { status: 200, pages };
    pages.push(page);
    if (page.length < limit) return { status: 200, pages };
  }
}

function headersOf(person: Person, purpose = person.purpose): Record<string, string> {
  return { authorization: basic(person.name), ...(purpose ? { 'x-purpose-of-use': purpose } : {}) };
}

describe('policy matrix over HTTP', () => {
  let gateway: TestGateway;
  const studies: Study[] = [];

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aegis-policy-'));
    const policyFile = join(dir, 'policy.yaml');
    await writeFile(policyFile, POLICY);
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false }, policy: policyFile });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      for (const person of PEOPLE) await users.add({ name: person.name, role: person.role, attributes: person.attributes, password: PASSWORD });
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
    } finally {
      await catalog.close();
    }
    const layout: Array<[string, string, string | undefined, number]> = [
      ['St Mary', 'CARDIOLOGY', undefined, 4],
      ['St Mary', 'NEUROLOGY', undefined, 3],
      ['St Mary', 'CARDIOLOGY', 'R', 1],
      ['General', 'CARDIOLOGY', undefined, 3],
      ['General', 'ONCOLOGY', undefined, 2],
    ];
    for (const [institution, department, confidentiality, count] of layout) {
      for (let i = 0; i < count; i++) studies.push({ uid: newUid(), series: newUid(), instance: newUid(), institution, department, confidentiality });
    }
    const stored = await stowAs(
      gateway,
      basic('root'),
      studies.map((s) => instanceOf(s)),
    );
    assert.equal(stored.status, 200, `admin stores the ${studies.length} studies`);
  });
  after(() => gateway.stop());

  it('search: QIDO pages hold only permitted studies, and together all of them', async () => {
    for (const person of PEOPLE) {
      const permitted = studies
        .filter((s) => expected(person, 'search', s))
        .map((s) => s.uid)
        .sort();
      for (const limit of [1, 2, 5, 100]) {
        const { status, pages } = await searchAll(gateway, person, limit);
        if (!ROLES_THAT_SEARCH.includes(person.role)) {
          assert.equal(status, 403, `${person.name} may search nothing: 403`);
          continue;
        }
        assert.equal(status, 200, `${person.name} searches (limit ${limit})`);
        for (const page of pages) for (const uid of page) assert.ok(permitted.includes(uid), `${person.name} sees only permitted studies (limit ${limit})`);
        assert.deepEqual(pages.flat().sort(), permitted, `${person.name}: the pages together hold every permitted study (limit ${limit})`);
        assert.equal(new Set(pages.flat()).size, pages.flat().length, 'no study twice across pages');
      }
    }
  });

  it('search: counts and related queries leak nothing about denied studies', async () => {
    const rad = PEOPLE[0];
    const denied = studies.find((s) => !expected(rad, 'search', s))!;
    for (const path of [`/studies?StudyInstanceUID=${denied.uid}`, `/studies/${denied.uid}/series`, `/studies/${denied.uid}/instances`, `/series?StudyInstanceUID=${denied.uid}`, `/instances?PatientID=PID-${denied.uid.slice(-6)}`]) {
      const res = await fetch(`${gateway.dicomWebUrl}${path}`, { headers: headersOf(rad) });
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), [], `${path} returns nothing of a denied study`);
    }
  });

  it('search: a study one may search but not read shows its default and matching attributes only, whatever includefield asks', async () => {
    const arch = PEOPLE.find((p) => p.role === 'archivist')!;
    const rad = PEOPLE.find((p) => p.name === 'rad-general')!;
    const study = studies.find((s) => s.institution === 'General')!;
    const instances = async (person: Person, query: string) => {
      const res = await fetch(`${gateway.dicomWebUrl}/instances?StudyInstanceUID=${study.uid}&${query}`, { headers: headersOf(person) });
      assert.equal(res.status, 200);
      const [match] = (await res.json()) as Array<Record<string, unknown>>;
      return { warning: res.headers.get('warning'), tags: Object.keys(match) };
    };
    const IMAGE_TYPE = '00080008'; // an attribute of the instance that no QIDO level returns by default
    const plain = await instances(arch, '');
    assert.ok(!plain.tags.includes(IMAGE_TYPE));
    // Beyond the defaults, a search shows what it could match on: StudyDescription and TransferSyntaxUID here.
    const matchable = [...plain.tags, '00081030', '00083002'].sort();
    for (const [query, tags] of [
      ['includefield=all', matchable],
      ['includefield=ImageType', plain.tags],
      [`includefield=${IMAGE_TYPE}&PatientID=PID-${study.uid.slice(-6)}`, plain.tags],
    ] as const) {
      const searched = await instances(arch, query);
      assert.deepEqual(searched.tags, tags, `${arch.name} may not read the study: ${query} adds nothing it could not match on`);
      assert.equal(searched.warning, '299 aegis "includefield is not honoured for 1 results of studies you may search but not read: they show the default and matching attributes only"');
    }
    const read = await instances(rad, 'includefield=all');
    assert.ok(read.tags.includes(IMAGE_TYPE), `${rad.name} may read the study: includefield=all returns its attributes`);
    assert.ok(!read.tags.includes('00080070'), 'as the read view shows them: Manufacturer is masked for reading');
    assert.equal(read.warning, null);
  });

  it('read, export and delete: each cell of the matrix answers as the policy says (denied = 404, as missing)', async () => {
    const cells: string[] = [];
    for (const person of PEOPLE) {
      for (const study of studies) {
        for (const action of ['read', 'export'] as const) {
          const url = action === 'read' ? `${gateway.dicomWebUrl}/studies/${study.uid}/metadata` : `${gateway.dicomWebUrl}/studies/${study.uid}/series/${study.series}/instances/${study.instance}`;
          const accept = action === 'read' ? 'application/dicom+json' : 'multipart/related; type="application/dicom"; transfer-syntax=*';
          const res = await fetch(url, { headers: { ...headersOf(person), accept } });
          await res.arrayBuffer();
          const allowed = expected(person, action, study);
          assert.equal(res.status, allowed ? 200 : 404, `${person.name} ${action} ${study.institution}/${study.department}${study.confidentiality ? '/R' : ''}`);
          cells.push(`${person.name}:${action}:${allowed}`);
        }
        // Delete is tried only where it is refused here; the allowed deletes run in their own test.
        if (!expected(person, 'delete', study)) {
          const res = await fetch(`${gateway.dicomWebUrl}/studies/${study.uid}`, { method: 'DELETE', headers: headersOf(person) });
          assert.equal(res.status, 404, `${person.name} may not delete ${study.uid}`);
        }
      }
    }
    assert.ok(cells.filter((c) => c.endsWith(':true')).length >= 20 && cells.filter((c) => c.endsWith(':false')).length >= 20, 'the matrix has both outcomes');
    // Nothing was deleted by the refused deletes.
    const all = await searchAll(gateway, { name: 'root', role: 'admin', attributes: {} }, 100);
    assert.equal(all.pages.flat().length, studies.length, 'every study is still there');
  });

  it('create: a modality stores into its own institution only (0x0124 per instance otherwise); others may not store at all', async () => {
    const mary = studies.find((s) => s.institution === 'St Mary')!;
    const general = studies.find((s) => s.institution === 'General')!;
    const newMary: Study = { ...mary, uid: newUid(), series: newUid(), instance: newUid() };
    const res = await stowAs(gateway, basic('ct-mary'), [instanceOf(mary, newUid()), instanceOf(general, newUid()), instanceOf(newMary)]);
    assert.equal(res.status, 202, 'partly stored');
    const failed = res.json!['00081198'].Value as Array<Record<string, any>>;
    assert.equal(failed.length, 1);
    assert.equal(failed[0]['00081197'].Value[0], 0x0124, 'the General instance is refused as not authorized');
    assert.equal(res.json!['00081199'].Value.length, 2, 'into an existing and a new study of its institution');
    for (const person of PEOPLE.filter((p) => p.role !== 'modality')) {
      const refused = await stowAs(gateway, basic(person.name), [instanceOf(mary, newUid())]);
      assert.equal(refused.status, 403, `${person.name} may not store at all`);
    }
  });

  it("create: a conflict with another institution's data does not name its study", async () => {
    const general = studies.find((s) => s.institution === 'General')!;
    const mine: Study = { uid: newUid(), series: general.series, instance: newUid(), institution: 'St Mary', department: 'CARDIOLOGY' };
    const { body, contentType } = stowBody([instanceOf(mine)]);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('ct-mary') }, body });
    const json = (await res.json()) as Record<string, any>;
    assert.equal(res.status, 409);
    assert.equal(json['00081198'].Value[0]['00081197'].Value[0], 0xa900, 'the series is recorded under another study');
    assert.equal(res.headers.get('warning'), `299 aegis "Series Instance UID ${general.series} belongs to another study, not to ${mine.uid}"`);
  });

  it('delete: an archivist deletes a study of its institution', async () => {
    const arch = PEOPLE.find((p) => p.role === 'archivist')!;
    const target = studies.find((s) => expected(arch, 'delete', s))!;
    const res = await fetch(`${gateway.dicomWebUrl}/studies/${target.uid}`, { method: 'DELETE', headers: headersOf(arch) });
    assert.equal(res.status, 204);
    studies.splice(studies.indexOf(target), 1);
    const gone = await fetch(`${gateway.dicomWebUrl}/studies/${target.uid}/metadata`, { headers: headersOf(PEOPLE[1]) });
    assert.equal(gone.status, 404);
  });

  it('purpose of use: the same subject is allowed for one purpose and refused for another', async () => {
    const rad = PEOPLE[0];
    const own = studies.find((s) => expected(rad, 'read', s))!;
    const research = PEOPLE.find((p) => p.role === 'research')!;
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies/${own.uid}/metadata`, { headers: headersOf(rad, 'ETREAT') })).status, 200, 'radiologist, ETREAT');
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies/${own.uid}/metadata`, { headers: headersOf(rad, 'HRESCH') })).status, 404, 'radiologist, HRESCH');
    assert.equal((await searchAll(gateway, rad, 10, 'HRESCH')).status, 403, 'radiologist may search nothing for research');
    assert.equal((await searchAll(gateway, research, 10, 'TREAT')).status, 403, 'researcher may search nothing for treatment');
    const restricted = studies.find((s) => s.confidentiality === 'R')!;
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies/${restricted.uid}/metadata`, { headers: headersOf(research) })).status, 404, 'the deny rule hides the restricted study from research');
  });

  it('break-glass: only allowed subjects, with reason and ETREAT; then time-limited access to any study, flagged in the audit trail', async () => {
    const phys = PEOPLE.find((p) => p.role === 'physician')!;
    const rad = PEOPLE[0];
    const elsewhere = studies.find((s) => s.institution === 'General')!;
    const url = `${gateway.dicomWebUrl}/studies/${elsewhere.uid}/metadata`;
    assert.equal((await fetch(url, { headers: headersOf(phys) })).status, 404, 'before break-glass');
    const declare = (person: Person, body: Record<string, unknown>) => fetch(`${gateway.url}/auth/break-glass`, { method: 'POST', headers: { ...headersOf(person), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await declare(rad, { reason: 'patient collapsed in the ward', purpose: 'ETREAT' })).status, 403, 'a radiologist may not break the glass here');
    assert.equal((await declare(phys, { purpose: 'ETREAT' })).status, 400, 'a reason is mandatory');
    assert.equal((await declare(phys, { reason: 'patient collapsed in the ward', purpose: 'TREAT' })).status, 400, 'purpose must be ETREAT');
    assert.equal((await declare(phys, { reason: 'patient collapsed in the ward', purpose: 'ETREAT', minutes: 120 })).status, 400, 'at most the policy maximum');
    const granted = await declare(phys, { reason: 'patient collapsed in the ward', purpose: 'ETREAT', minutes: 5 });
    assert.equal(granted.status, 201);
    const grant = (await granted.json()) as { id: string; expiresAt: string };
    assert.ok(Date.parse(grant.expiresAt) - Date.now() <= 5 * 60_000 && Date.parse(grant.expiresAt) > Date.now(), 'expires within the minutes asked');
    const res = await fetch(url, { headers: headersOf(phys, 'ETREAT') });
    assert.equal(res.status, 200, 'during break-glass, for emergency treatment');
    assert.equal((await fetch(url, { headers: headersOf(phys) })).status, 404, 'during break-glass, a request that does not declare ETREAT is ordinary');
    const searched = await searchAll(gateway, phys, 100, 'ETREAT');
    const everything = await searchAll(gateway, { name: 'root', role: 'admin', attributes: {} }, 100);
    assert.deepEqual(searched.pages.flat().sort(), everything.pages.flat().sort(), 'every study is searchable during break-glass');
    const whoami = (await (await fetch(`${gateway.url}/auth/whoami`, { headers: headersOf(phys, 'ETREAT') })).json()) as Record<string, any>;
    assert.equal(whoami.purpose, 'ETREAT');
    assert.equal(whoami.breakGlass.id, grant.id);
    assert.equal((await fetch(`${gateway.url}/auth/break-glass`, { method: 'DELETE', headers: headersOf(phys) })).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the grant cache of other workers: 2 s
    assert.equal((await fetch(url, { headers: headersOf(phys, 'ETREAT') })).status, 404, 'after it ended');

    const trail = await auditEvents(gateway);
    const started = trail.find((e) => e.kind === 'break-glass' && e.operation === 'start' && e.outcome === 'success');
    assert.ok(started, 'the grant is in the audit trail');
    assert.equal(started.emergency, true, 'flagged as an emergency');
    assert.equal(started.reason, 'patient collapsed in the ward');
    const read = trail.find((e) => e.kind === 'request' && e.http?.path === `/dicom-web/studies/${elsewhere.uid}/metadata` && e.outcome === 'success' && e.actor.name === phys.name);
    assert.ok(read, 'the emergency read is audited');
    assert.equal(read.emergency, true, 'and flagged');
    assert.equal(read.policyRule, 'physician-emergency', 'with the rule that allowed it');
    assert.ok(
      trail.some((e) => e.kind === 'break-glass' && e.outcome === 'denied' && e.actor.name === rad.name),
      'the refused declaration is audited',
    );
  });

  it('the audit trail records refusals with the subject, the study and the outcome', async () => {
    const trail = await auditEvents(gateway);
    const rad = PEOPLE[0];
    const denied = trail.filter((e) => e.kind === 'request' && e.actor.name === rad.name && e.outcome === 'denied' && /\/studies\/[0-9.]+\//.test(e.http.path));
    assert.ok(denied.length > 0, 'denied reads of the radiologist are audited');
    assert.ok(
      denied.every((e) => e.resources.length > 0 && e.actor.attributes?.institution === 'St Mary'),
      'with the study and the attributes used',
    );
    const allowed = trail.find((e) => e.kind === 'request' && e.actor.name === rad.name && e.outcome === 'success' && e.action === 'read');
    assert.equal(allowed?.policyRule, 'radiologist-own-institution');
  });
});

/** The events of the gateway's audit trail, read from its catalog after a flush. */
async function auditEvents(gateway: TestGateway): Promise<Array<Record<string, any>>> {
  await new Promise((resolve) => setTimeout(resolve, 200)); // the trail flushes every 50 ms
  const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
  try {
    const rows = await catalog.db.selectFrom('audit_events').select(['event']).orderBy('seq').execute();
    return rows.map((r) => JSON.parse(r.event) as Record<string, any>);
  } finally {
    await catalog.close();
  }
}
