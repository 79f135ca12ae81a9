/**
 * The rendered and thumbnail resources over HTTP (PS3.18 §10.4.1.1.3, §8.3.5): which instance and
 * frame a study, series or instance shows, the media types (image/jpeg by default, image/png,
 * image/gif; 406 otherwise), the viewport (the image fits in vw x vh), the window parameter and
 * the other query parameters, what cannot be rendered (406 with its reason), and the access policy:
 * a de-identified view renders only instances that declare BurnedInAnnotation NO, a subject the
 * policy denies gets no image, and every rendered read is audited. Synthetic instances of uniform
 * value tell by their grey level which instance and frame an image shows.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, stow, stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
/** A linear window over 0..399: stored value v shows as ((v - 199.5) / 399 + 0.5) * 255, truncated. */
const WINDOW = 'window=200,400,linear';

/** The grey level WINDOW gives stored value `v`. */
function grey(v: number): number {
  return Math.trunc(((v - 199.5) / 399 + 0.5) * 255);
}

/** Native 16-bit pixel data of `frames` frames of rows x columns, frame f of uniform value values[f]. */
function uniform(rows: number, columns: number, values: number[]): Buffer {
  const out = Buffer.alloc(rows * columns * 2 * values.length);
  values.forEach((v, f) => {
    for (let i = 0; i < rows * columns; i++) out.writeUInt16LE(v, (f * rows * columns + i) * 2);
  });
  return out;
}

/** Size, channels and distinct sample values of an encoded image. */
async function decoded(image: Buffer): Promise<{ width: number; height: number; values: number[] }> {
  const { data, info } = await sharp(image).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, values: [...new Set(data)].sort((a, b) => a - b) };
}

describe('rendered and thumbnail resources', () => {
  let gateway: TestGateway;
  const study = newUid();
  const series = { first: newUid(), second: newUid(), frames: newUid() };
  const sops = { n1: newUid(), n2: newUid(), n3: newUid(), other: newUid(), multi: newUid(), tall: newUid() };
  let base = '';

  before(async () => {
    gateway = await startTestGateway();
    const instance = (seriesUid: string, sop: string, seriesNumber: number, instanceNumber: number, value: number) =>
      syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesUid, sopInstanceUID: sop, seriesNumber, instanceNumber, rows: 64, columns: 64, pixels: uniform(64, 64, [value]) });
    const instances = [
      // Series Number 2 is stored first; Series Number 1 comes out of order: 3, 1, 2.
      instance(series.second, sops.other, 2, 1, 50),
      instance(series.first, sops.n3, 1, 3, 300),
      instance(series.first, sops.n1, 1, 1, 100),
      instance(series.first, sops.n2, 1, 2, 200),
      // Square pixels (Pixel Spacing 1\1): the image is 64 x 32 on screen too.
      syntheticInstance({
        ...{ studyInstanceUID: study, seriesInstanceUID: series.frames, sopInstanceUID: sops.multi, seriesNumber: 3, instanceNumber: 1 },
        ...{ rows: 32, columns: 64, numberOfFrames: 2, pixels: uniform(32, 64, [100, 300]), extra: [{ tag: '00280030', vr: 'DS', value: '1\\1' }] },
      }),
      // Pixels twice as high as wide (Pixel Spacing 10\5): shown at their physical aspect, 64 x 64.
      syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series.frames, sopInstanceUID: sops.tall, seriesNumber: 3, instanceNumber: 2, rows: 32, columns: 64, pixels: uniform(32, 64, [100]) }),
    ];
    const stored = await stow(gateway.dicomWebUrl, instances);
    assert.equal(stored.status, 200, JSON.stringify(stored.json).slice(0, 300));
    base = `${gateway.dicomWebUrl}/studies/${study}`;
  });
  after(() => gateway.stop());

  it('a study shows the middle instance (by Instance Number) of its first series (by Series Number); a series its middle instance', async () => {
    for (const [path, value] of [
      ['', 200],
      [`/series/${series.first}`, 200],
      [`/series/${series.second}`, 50],
      [`/series/${series.first}/instances/${sops.n3}`, 300],
    ] as const) {
      const res = await get(`${base}${path}/rendered?${WINDOW}`, 'image/png');
      assert.equal(res.status, 200, `${path}: ${res.body.toString('utf8', 0, 200)}`);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual(await decoded(res.body), { width: 64, height: 64, values: [grey(value)] }, path);
    }
  });

  it('an instance shows its first frame, a frame resource the frame asked for; one frame per request', async () => {
    const instance = `${base}/series/${series.frames}/instances/${sops.multi}`;
    assert.deepEqual(await decoded((await get(`${instance}/rendered?${WINDOW}`, 'image/png')).body), { width: 64, height: 32, values: [grey(100)] });
    const second = await get(`${instance}/frames/2/rendered?${WINDOW}`, 'image/png');
    assert.equal(second.status, 200);
    assert.deepEqual(await decoded(second.body), { width: 64, height: 32, values: [grey(300)] });
    assert.equal((await get(`${instance}/frames/3/rendered`, 'image/png')).status, 404);
    const two = await get(`${instance}/frames/1,2/rendered`, 'image/png');
    assert.equal(two.status, 400);
    assert.match(JSON.parse(two.body.toString()).error.message, /shows one frame; 2 were asked/);
  });

  it('image/jpeg is the default; image/png and image/gif when asked; anything else is 406 with the reason', async () => {
    const url = `${base}/series/${series.first}/instances/${sops.n1}/rendered`;
    for (const [accept, type, magic] of [
      [undefined, 'image/jpeg', 'ffd8ff'],
      ['*/*', 'image/jpeg', 'ffd8ff'],
      ['image/*', 'image/jpeg', 'ffd8ff'],
      ['image/webp, image/png;q=0.5', 'image/png', '89504e47'],
      ['image/gif', 'image/gif', '47494638'],
    ] as const) {
      const res = await get(url, accept);
      assert.equal(res.status, 200, `${accept}`);
      assert.equal(res.headers.get('content-type'), type, `${accept}`);
      assert.equal(res.body.subarray(0, magic.length / 2).toString('hex'), magic, `${accept}: the ${type} signature`);
      assert.equal(Number(res.headers.get('content-length')), res.body.length);
    }
    // The accept query parameter replaces the Accept header (PS3.18 §8.3.3.1).
    const byParameter = await get(`${url}?accept=${encodeURIComponent('image/png')}`, 'image/jpeg');
    assert.deepEqual([byParameter.status, byParameter.headers.get('content-type')], [200, 'image/png']);
    assert.equal((await get(`${url}?accept=image/webp`, 'image/jpeg')).status, 406);
    for (const accept of ['image/webp', 'application/dicom', 'multipart/related; type="image/jpeg"']) {
      const res = await get(url, accept);
      assert.equal(res.status, 406, accept);
      assert.match(JSON.parse(res.body.toString()).error.message, /rendered images are available as image\/jpeg, image\/png, image\/gif/, accept);
    }
  });

  it('the viewport gives an image that fits in vw x vh; a thumbnail fits in 128 x 128', async () => {
    const square = `${base}/series/${series.first}/instances/${sops.n1}`;
    const wide = `${base}/series/${series.frames}/instances/${sops.multi}`;
    const size = async (url: string) => {
      const res = await get(url, 'image/png');
      assert.equal(res.status, 200, `${url}: ${res.body.toString('utf8', 0, 200)}`);
      const { width, height } = await decoded(res.body);
      return [width, height];
    };
    assert.deepEqual(await size(`${square}/rendered?viewport=32,32`), [32, 32]);
    assert.deepEqual(await size(`${square}/rendered?viewport=200,100`), [100, 100]);
    assert.deepEqual(await size(`${wide}/rendered?viewport=40,40`), [40, 20]);
    assert.deepEqual(await size(`${base}/series/${series.frames}/instances/${sops.tall}/rendered`), [64, 64]);
    assert.deepEqual(await size(`${wide}/rendered?viewport=16,16,0,0,32,32`), [16, 16]);
    assert.deepEqual(await size(`${wide}/rendered?viewport=10,10,0,0,-32,32`), [10, 10]);
    assert.deepEqual(await size(`${square}/thumbnail`), [128, 128]);
    assert.deepEqual(await size(`${wide}/thumbnail`), [128, 64]);
    assert.deepEqual(await size(`${base}/thumbnail`), [128, 128]);
    assert.deepEqual(await size(`${base}/series/${series.frames}/thumbnail?viewport=32,32`), [32, 16]);
    const outside = await get(`${wide}/rendered?viewport=10,10,60,0,10,10`, 'image/png');
    assert.equal(outside.status, 400);
    assert.match(JSON.parse(outside.body.toString()).error.message, /lies outside the 64 x 32 frame/);
  });

  it('a GIF larger than 1024 x 1024 pixels (the slow encoder) is refused with 400 saying the limit; up to it, and other types, are made', async () => {
    const url = `${base}/series/${series.first}/instances/${sops.n1}/rendered`;
    const big = await get(`${url}?viewport=4096,4096`, 'image/gif');
    assert.equal(big.status, 400, big.body.toString('utf8', 0, 200));
    assert.equal(JSON.parse(big.body.toString()).error.message, 'a GIF of 4096 x 4096 pixels is larger than the 1048576 pixels (1024 x 1024) Aegis encodes as GIF; ask for a smaller viewport, or for image/png or image/jpeg');
    const largest = await get(`${url}?viewport=1024,1024`, 'image/gif');
    assert.equal(largest.status, 200);
    assert.deepEqual([(await decoded(largest.body)).width, (await decoded(largest.body)).height], [1024, 1024]);
    const png = await get(`${url}?viewport=2048,2048`, 'image/png');
    assert.equal(png.status, 200);
    assert.equal((await decoded(png.body)).width, 2048);
  });

  it('malformed parameters are 400 naming them; annotation is accepted and said not to be rendered', async () => {
    const url = `${base}/series/${series.first}/instances/${sops.n1}`;
    for (const [query, pattern] of [
      ['rendered?window=abc', /window 'abc' is not center,width,function/],
      ['rendered?window=40,400', /is not center,width,function/],
      ['rendered?window=40,0,linear', /window width 0 is too small/],
      ['rendered?window=40,400,gamma', /window function 'gamma'/],
      ['rendered?window=40,400,linear&window=1,2,linear', /given once/],
      ['rendered?viewport=0,10', /viewport width 0 is outside 1-4096/],
      ['rendered?viewport=10', /is not vw,vh/],
      ['rendered?quality=0', /quality 0 is outside 1-100/],
      ['rendered?annotation=everything', /annotation 'everything'/],
      [`thumbnail?${WINDOW}`, /a thumbnail takes no window parameter/],
    ] as const) {
      const res = await get(`${url}/${query}`, 'image/jpeg');
      assert.equal(res.status, 400, query);
      assert.match(JSON.parse(res.body.toString()).error.message, pattern, query);
    }
    const annotated = await get(`${url}/rendered?annotation=patient,technique&quality=50`, 'image/jpeg');
    assert.equal(annotated.status, 200);
    assert.match(annotated.headers.get('warning') ?? '', /^299 aegis "annotation \(patient, technique\) is not rendered/);
  });

  it('what cannot be rendered is 406 with the reason', async () => {
    const other = await startTestGateway();
    try {
      for (const file of ['rtplan.dcm', 'SC_rgb_rle_16bit.dcm']) {
        const stored = await stow(other.dicomWebUrl, [await readFile(join(SAMPLES, file))]);
        assert.equal(stored.status, 200, file);
      }
      const plan = await get(`${other.dicomWebUrl}/studies/1.22.333.4.555555.6.7777777777777777777777777777/rendered`, 'image/png');
      const colour = await get(`${other.dicomWebUrl}/studies/1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114/rendered`, 'image/png');
      assert.deepEqual([plan.status, JSON.parse(plan.body.toString()).error.message], [406, 'the instance has no pixel data to render']);
      assert.equal(colour.status, 406, colour.body.toString());
      assert.match(JSON.parse(colour.body.toString()).error.message, /RGB images of 16 bits allocated are not rendered/);
    } finally {
      await other.stop();
    }
  });
});

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
`;

function basic(name: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}` };
}

describe('rendered images under the access policy', () => {
  let gateway: TestGateway;
  let policyDir: string;
  /** One study per BurnedInAnnotation value ('' = the attribute is absent). */
  const studies = new Map<string, { study: string; url: string }>();

  before(async () => {
    policyDir = await mkdtemp(join(tmpdir(), 'aegis-rendered-'));
    await writeFile(join(policyDir, 'policy.yaml'), POLICY);
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false }, policy: join(policyDir, 'policy.yaml') });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      for (const [name, role] of [
        ['rad', 'radiologist'],
        ['researcher', 'research'],
        ['visitor', 'visitor'],
        ['root', 'admin'],
      ]) {
        await users.add({ name, role, password: PASSWORD });
      }
    } finally {
      await catalog.close();
    }
    for (const burnedIn of ['YES', 'NO', '']) {
      const uids = { study: newUid(), series: newUid(), sop: newUid() };
      const bytes = syntheticInstance({
        studyInstanceUID: uids.study,
        seriesInstanceUID: uids.series,
        sopInstanceUID: uids.sop,
        patientName: 'Doe^Jane',
        institutionName: 'CHU',
        extra: burnedIn === '' ? [] : [{ tag: '00280301', vr: 'CS', value: burnedIn }],
      });
      const { body, contentType } = stowBody([bytes]);
      const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, ...basic('root') }, body });
      assert.equal(res.status, 200, await res.text());
      studies.set(burnedIn, { study: uids.study, url: `${gateway.dicomWebUrl}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}` });
    }
  });
  after(async () => {
    await gateway.stop();
    await rm(policyDir, { recursive: true, force: true });
  });

  it('the research view renders only instances that declare BurnedInAnnotation NO; the radiologist sees all', async () => {
    const research = { ...basic('researcher'), 'x-purpose-of-use': 'HRESCH' };
    for (const [burnedIn, { url }] of studies) {
      for (const resource of ['rendered', 'thumbnail']) {
        const rad = await get(`${url}/${resource}`, 'image/png', basic('rad'));
        assert.equal(rad.status, 200, `radiologist, BurnedInAnnotation '${burnedIn}', ${resource}`);
        const res = await get(`${url}/${resource}`, 'image/png', research);
        if (burnedIn === 'NO') {
          assert.equal(res.status, 200, `research, NO, ${resource}: ${res.body.toString('utf8', 0, 200)}`);
          assert.equal(res.headers.get('content-type'), 'image/png');
          continue;
        }
        assert.equal(res.status, 403, `research, BurnedInAnnotation '${burnedIn}', ${resource}`);
        assert.equal(res.headers.get('content-type')?.startsWith('image/'), false);
        const message = JSON.parse(res.body.toString()).error.message as string;
        assert.match(message, burnedIn === 'YES' ? /declares burned-in annotation/ : /does not declare BurnedInAnnotation NO/);
      }
    }
  });

  it('a subject the policy denies gets no image, at any level; every rendered read is audited', async () => {
    const { study, url } = studies.get('NO')!;
    for (const path of [`${gateway.dicomWebUrl}/studies/${study}/rendered`, `${url}/rendered`, `${url}/thumbnail`, `${url}/frames/1/rendered`]) {
      const res = await fetch(path, { headers: { accept: 'image/png', ...basic('visitor'), 'x-request-id': 'rendered-visitor' } });
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(res.status === 403 || res.status === 404, `${path}: ${res.status}`);
      assert.equal(res.headers.get('content-type')?.startsWith('image/'), false, path);
      assert.notEqual(body.subarray(0, 4).toString('hex'), '89504e47', 'no PNG');
    }
    const allowed = await fetch(`${url}/rendered`, { headers: { accept: 'image/png', ...basic('rad'), 'x-request-id': 'rendered-rad' } });
    assert.equal(allowed.status, 200);
    await allowed.arrayBuffer();
    const { events } = await readTrail(gateway.dataDir);
    const denied = events.filter((e) => e.requestId === 'rendered-visitor');
    const read = events.find((e) => e.requestId === 'rendered-rad');
    assert.equal(denied.length, 4, 'each denied request is recorded');
    assert.ok(
      denied.every((e) => e.outcome !== 'success'),
      JSON.stringify(denied.map((e) => e.outcome)),
    );
    assert.equal(read?.action, 'read');
    assert.equal(read?.outcome, 'success');
    assert.equal(read?.http?.status, 200);
    assert.equal(read?.resources?.[0]?.study, study);
  });
});
