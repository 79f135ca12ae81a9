/**
 * One decision ({@link instanceView}) says what a subject may see of an instance, and every route
 * that returns bytes or attributes answers as it says. The routes come from the app's own route
 * inventory, so a route added later is requested too: each GET route is asked, with every usual
 * Accept, for (a) a research subject (de-identified view) and an instance that declares
 * BurnedInAnnotation YES, and (b) a subject whose view masks Pixel Data (7FE00010); a radiologist
 * with the full view and an instance without burned-in annotation are the controls that show the
 * pixel bytes would be seen if they were there. No response may carry the pixels, or the bulk
 * data URL of the pixels, that the decision withholds; the routes whose purpose is pixels answer
 * with the decision's refusal; metadata equals the decision's view of the stored metadata.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StudyView } from '../../gateway/access/policy/policy.js';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { DicomJson } from '../../gateway/dicom/types.js';
import { routeInventory } from '../../gateway/http/app.js';
import { instanceView, metadataInView, type InstanceView } from '../../gateway/deidentify/views.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';

const POLICY = `
version: 1
rules:
  - id: radiologists-see-everything
    subjects: { role: radiologist }
    actions: [search, read, export]
  - id: research-deidentified
    subjects: { role: research }
    actions: [search, read, export]
    environment: { purpose: HRESCH }
    view: deidentified
  - id: clerks-read
    subjects: { role: clerk }
    actions: [search, read, export]
  - id: clerks-see-no-pixels
    effect: deny
    subjects: { role: clerk }
    actions: [search, read, export]
    fields: [PixelData]
`;

interface Person {
  name: string;
  role: string;
  headers: Record<string, string>;
  /** The view the policy above gives this subject of every study, for every action. */
  view: StudyView;
}

const PEOPLE: Person[] = [
  { name: 'rad', role: 'radiologist', headers: {}, view: { deidentify: false, maskedFields: [] } },
  { name: 'researcher', role: 'research', headers: { 'x-purpose-of-use': 'HRESCH' }, view: { deidentify: true, maskedFields: [] } },
  { name: 'clerk', role: 'clerk', headers: {}, view: { deidentify: false, maskedFields: ['7FE00010'] } },
];

interface Stored {
  label: string;
  study: string;
  series: string;
  sop: string;
  bytes: Buffer;
  pixels: Buffer;
  /** The stored metadata (as the full view shows it). */
  metadata?: DicomJson;
}

/** Accept headers a client may send; every route is asked with each. */
const ACCEPTS = [
  '*/*',
  'application/dicom+json',
  'application/json',
  'multipart/related; type="application/dicom"; transfer-syntax=*',
  'multipart/related; type="application/dicom"',
  'application/dicom',
  'multipart/related; type="application/octet-stream"; transfer-syntax=*',
  'multipart/related; type="application/octet-stream"',
  'application/octet-stream',
  'image/jpeg',
  'image/png',
];

/** What a route returns, by its path pattern; `other` routes get the checks that hold for any route. */
type RouteKind = 'retrieve' | 'metadata' | 'frames' | 'bulkdata' | 'rendered' | 'other';

function kindOf(path: string): RouteKind {
  if (/\/(rendered|thumbnail)$/.test(path)) return 'rendered';
  if (/\/frames\/:frames$/.test(path)) return 'frames';
  if (/\/bulkdata\/\*path$/.test(path)) return 'bulkdata';
  if (/\/metadata$/.test(path)) return 'metadata';
  if (/^\/dicom-web\/studies\/:study(\/series\/:series(\/instances\/:instance)?)?$/.test(path)) return 'retrieve';
  return 'other';
}

/** The Accept header that asks a route of each kind for what it gives. */
const ACCEPT_OF: Record<Exclude<RouteKind, 'other'>, string> = {
  retrieve: 'multipart/related; type="application/dicom"; transfer-syntax=*',
  metadata: 'application/dicom+json',
  frames: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
  bulkdata: 'multipart/related; type="application/octet-stream"',
  rendered: 'image/jpeg',
};

/** A concrete path of a route pattern for an instance; a parameter this test does not know fails it. */
function concretePath(pattern: string, instance: Stored): string {
  const path = pattern.replace(':study', instance.study).replace(':series', instance.series).replace(':instance', instance.sop).replace(':frames', '1').replace('*path', '7FE00010');
  assert.doesNotMatch(path, /[:*]/, `route ${pattern} has a parameter this test cannot fill: teach concretePath about it`);
  return path;
}

/** Whether `body` holds any of three 32-byte runs of `pixels` (random values: no chance match). */
function holdsPixels(body: Buffer, pixels: Buffer): boolean {
  return [0, pixels.length / 2, pixels.length - 32].some((at) => body.includes(pixels.subarray(at, at + 32)));
}

function basic(name: string): string {
  return `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
}

describe('every route answers as the instance view decides', () => {
  let gateway: TestGateway;
  let policyDir: string;
  const instances: Stored[] = [];

  before(async () => {
    policyDir = await mkdtemp(join(tmpdir(), 'aegis-views-'));
    const policyFile = join(policyDir, 'policy.yaml');
    await writeFile(policyFile, POLICY);
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false }, policy: policyFile });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      for (const person of PEOPLE) await users.add({ name: person.name, role: person.role, password: PASSWORD });
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
    } finally {
      await catalog.close();
    }
    for (const [label, burnedIn, seed] of [
      ['burned-in annotation', 'YES', 11],
      ['no burned-in annotation', 'NO', 12],
    ] as const) {
      const pixels = Buffer.from(syntheticInstance({ rows: 32, columns: 32, pixels: 'random', seed }).subarray(-2048));
      const uids = { study: newUid(), series: newUid(), sop: newUid() };
      const bytes = syntheticInstance({
        studyInstanceUID: uids.study,
        seriesInstanceUID: uids.series,
        sopInstanceUID: uids.sop,
        rows: 32,
        columns: 32,
        pixels,
        patientName: 'Doe^Jane',
        patientID: 'PID-4711',
        institutionName: 'CHU',
        extra: [{ tag: '00280301', vr: 'CS', value: burnedIn }],
      });
      assert.ok(bytes.subarray(-2048).equals(pixels), 'the pixel data ends the instance');
      instances.push({ label, ...uids, bytes, pixels });
    }
    const { body, contentType } = stowBody(instances.map((i) => i.bytes));
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('root') }, body });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    for (const instance of instances) {
      const url = `${gateway.dicomWebUrl}/studies/${instance.study}/series/${instance.series}/instances/${instance.sop}/metadata`;
      instance.metadata = ((await (await fetch(url, { headers: { authorization: basic('root') } })).json()) as DicomJson[])[0];
    }
  });
  after(async () => {
    await gateway.stop();
    await rm(policyDir, { recursive: true, force: true });
  });

  it('the decision withholds pixels in the two cases, and only there', () => {
    const decisions = PEOPLE.flatMap((person) => instances.map((instance) => [person.name, instance.label, instanceView(person.view, instance.metadata!)] as const));
    const withheld = decisions.filter(([, , d]) => d.pixelsWithheld !== undefined).map(([who, what, d]) => `${who}/${what}/${d.pixelsWithheld!.code}/${d.instanceRefused?.code ?? 'instance given'}`);
    assert.deepEqual(withheld.sort(), ['clerk/burned-in annotation/NOT_FOUND/instance given', 'clerk/no burned-in annotation/NOT_FOUND/instance given', 'researcher/burned-in annotation/FORBIDDEN/FORBIDDEN']);
  });

  it('no route gives the pixels or their bulk data URL that the decision withholds; pixel routes refuse as it says', { timeout: 300_000 }, async () => {
    const routes = routeInventory(gateway.app).filter((r) => r.method === 'GET');
    const kinds = routes.map((r) => kindOf(r.path));
    for (const kind of ['retrieve', 'metadata', 'frames', 'bulkdata', 'rendered'] as const) assert.ok(kinds.includes(kind), `the inventory has ${kind} routes`);
    assert.ok(kinds.filter((k) => k === 'rendered').length >= 8 && kinds.filter((k) => k === 'retrieve').length === 3 && kinds.filter((k) => k === 'metadata').length === 3);
    const seen = { pixelsShown: 0, pixelsWithheld: 0 };
    // Every wrong answer is collected, so that one run names every route that does not ask the decision.
    const failures: string[] = [];
    const check = (ok: boolean, message: string) => void (ok || failures.push(message));
    const expectStatus = (actual: number, expected: number, message: string) => check(actual === expected, `${message}: wants ${expected}`);

    for (const person of PEOPLE) {
      for (const instance of instances) {
        const decision: InstanceView = instanceView(person.view, instance.metadata!);
        const what = `${person.name} / ${instance.label}`;
        const pixelUrl = `/instances/${instance.sop}/bulkdata/7FE00010`;
        for (const route of routes) {
          const path = concretePath(route.path, instance);
          const kind = kindOf(route.path);
          const accepts = kind === 'other' ? ACCEPTS : [ACCEPT_OF[kind], ...ACCEPTS];
          for (const [i, accept] of accepts.entries()) {
            const res = await fetch(`${gateway.url}${path}`, { headers: { authorization: basic(person.name), accept, ...person.headers } });
            const body = Buffer.from(await res.arrayBuffer());
            const label = `${what}: GET ${route.path} (${accept}) answered ${res.status}`;
            check(res.status < 500, `${label}: ${body.toString('utf8', 0, 300)}`);
            if (decision.pixelsWithheld !== undefined) {
              check(!holdsPixels(body, instance.pixels), `${label}: it holds pixels the decision withholds`);
              check(!body.includes(pixelUrl), `${label}: it offers the bulk data URL of pixels the decision withholds`);
            }
            if (i > 0 || kind === 'other') continue;
            // The route's own representation, checked against the decision.
            switch (kind) {
              case 'frames':
              case 'bulkdata':
                if (decision.pixelsWithheld !== undefined) {
                  expectStatus(res.status, decision.pixelsWithheld.code === 'FORBIDDEN' ? 403 : 404, `${label}: the decision's refusal`);
                  seen.pixelsWithheld++;
                } else {
                  expectStatus(res.status, 200, label);
                  check(holdsPixels(body, instance.pixels), `${label}: the pixels, as the decision shows them`);
                  seen.pixelsShown++;
                }
                break;
              case 'rendered':
                expectStatus(res.status, decision.renderingWithheld === undefined ? 200 : decision.renderingWithheld.code === 'FORBIDDEN' ? 403 : 404, `${label}: rendered asks the decision first`);
                check(res.status !== 200 || res.headers.get('content-type') === 'image/jpeg', `${label}: a JPEG image`);
                break;
              case 'retrieve': {
                if (decision.instanceRefused !== undefined) {
                  expectStatus(res.status, decision.instanceRefused.code === 'FORBIDDEN' ? 403 : 404, `${label}: the decision's refusal`);
                  break;
                }
                expectStatus(res.status, 200, label);
                if (res.status !== 200) break;
                const [part] = multipartParts(body, res.headers.get('content-type')!);
                if (decision.whole) check(part.bytes.equals(instance.bytes), `${label}: as stored`);
                check(holdsPixels(part.bytes, instance.pixels) === (decision.pixelsWithheld === undefined), `${label}: pixels as the decision says`);
                break;
              }
              case 'metadata': {
                expectStatus(res.status, 200, label);
                if (res.status !== 200) break;
                const [json] = JSON.parse(body.toString()) as DicomJson[];
                check(JSON.stringify(json) === JSON.stringify(metadataInView(decision, instance.metadata!)), `${label}: the decision's view of the stored metadata`);
                check((json['7FE00010'] !== undefined) === (decision.pixelsWithheld === undefined), `${label}: Pixel Data listed as the decision says`);
                break;
              }
            }
          }
        }
      }
    }
    assert.deepEqual(failures, [], 'every route answers as the decision says');
    assert.ok(seen.pixelsShown >= 6 && seen.pixelsWithheld >= 6, `both outcomes were seen (${JSON.stringify(seen)})`);
  });

  it('a study retrieved de-identified leaves out the instance with burned-in annotation, says so, and sends the others', async () => {
    const study = newUid();
    const series = newUid();
    const parts = (['YES', 'NO'] as const).map((burnedIn, i) => {
      const sop = newUid();
      const bytes = syntheticInstance({
        studyInstanceUID: study,
        seriesInstanceUID: series,
        sopInstanceUID: sop,
        rows: 8,
        columns: 8,
        pixels: 'random',
        seed: 40 + i,
        institutionName: 'CHU',
        extra: [{ tag: '00280301', vr: 'CS', value: burnedIn }],
      });
      return { sop, bytes };
    });
    const { body, contentType } = stowBody(parts.map((p) => p.bytes));
    const stored = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('root') }, body });
    await stored.arrayBuffer();
    assert.equal(stored.status, 200);
    const researcher = PEOPLE[1];
    const res = await fetch(`${gateway.dicomWebUrl}/studies/${study}`, { headers: { authorization: basic(researcher.name), accept: ACCEPT_OF.retrieve, ...researcher.headers } });
    assert.equal(res.status, 206);
    assert.match(res.headers.get('warning') ?? '', /^299 aegis "1 instances are not available in your view of the data \(burned-in annotation\)/);
    const received = multipartParts(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    assert.deepEqual(
      received.map((p) => p.headers['content-location']?.split('/').pop()),
      [parts[1].sop],
      'only the instance without burned-in annotation',
    );
    const one = await fetch(`${gateway.dicomWebUrl}/studies/${study}/series/${series}/instances/${parts[0].sop}`, { headers: { authorization: basic(researcher.name), accept: ACCEPT_OF.retrieve, ...researcher.headers } });
    assert.equal(one.status, 403);
    assert.match(((await one.json()) as { error: { message: string } }).error.message, /burned-in annotation/);
  });
});
