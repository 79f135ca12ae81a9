/**
 * The HTTP-level fuzz invariant: a gateway running in this process (the `startServer` of the CLI)
 * gets thousands of fuzzed requests (STOW-RS bodies of fuzzed instances in multipart bodies with
 * boundary games, QIDO-RS query strings, Accept headers on every retrieve route of a stored
 * instance) and answers every one with a status below 500, reading or refusing the whole body,
 * and still answers a plain search at the end, with no process warning on the way.
 * AEGIS_FUZZ_HTTP_RUNS cases (2,000 by default).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { dicomInput } from './support/dicom-inputs.js';
import { FUZZ_SEED, FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { acceptHeader } from './targets/accept.js';
import { qidoParams } from './targets/qido-query.js';

const RUNS = Number(process.env.AEGIS_FUZZ_HTTP_RUNS ?? 2000);

let gateway: TestGateway;
const study = newUid();
const series = newUid();
const sop = newUid();

before(async () => {
  gateway = await startTestGateway();
  const stored = await stow(gateway.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 8, columns: 8, numberOfFrames: 2, forceNumberOfFrames: true })]);
  assert.equal(stored.status, 200);
});
after(() => gateway?.stop());

/** What fetch can send: header values are latin1 without CR, LF or NUL. */
const headerSafe = (text: string) => text.replace(/[^\x20-\x7e\t]/g, ' ').trim();

interface FuzzRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const contentType = (boundary: string) =>
  fc.constantFrom(
    `multipart/related; type="application/dicom"; boundary=${boundary}`,
    `multipart/related; type=application/dicom; boundary="${boundary}"`,
    `multipart/related; boundary=${boundary}`,
    'multipart/related; type="application/dicom"',
    `multipart/related; type="application/dicom+json"; boundary=${boundary}`,
    'application/dicom',
    `multipart/mixed; boundary=${boundary}`,
    '',
  );

const stowRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    boundary: fc.oneof(fc.constant('fuzz-boundary'), fc.stringMatching(/^[0-9A-Za-z'()+_,./:=?-]{1,70}$/)),
    parts: fc.array(fc.tuple(dicomInput, fc.constantFrom('application/dicom', 'application/octet-stream', '')), { maxLength: 3 }),
    close: fc.constantFrom('--', '--', '', '-'),
    target: fc.constantFrom('/studies', `/studies/${study}`, '/studies/1.2.3', '/studies/x'),
  })
  .chain(({ boundary, parts, close, target }) =>
    contentType(boundary).map((type): FuzzRequest => {
      const chunks = parts.flatMap(([bytes, partType]) => [Buffer.from(`--${boundary}\r\n${partType ? `Content-Type: ${partType}\r\n` : ''}\r\n`, 'latin1'), Buffer.from(bytes), Buffer.from('\r\n')]);
      chunks.push(Buffer.from(`--${boundary}${close}\r\n`, 'latin1'));
      return { method: 'POST', path: target, headers: type ? { 'Content-Type': type, Accept: 'application/dicom+json' } : {}, body: Buffer.concat(chunks) };
    }),
  );

const qidoRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(fc.constantFrom('/studies', '/series', '/instances', `/studies/${study}/series`, `/studies/${study}/instances`, `/studies/${study}/series/${series}/instances`, '/studies/1.2/series'), qidoParams, acceptHeader)
  .map(([path, params, accept]): FuzzRequest => ({ method: 'GET', path: `${path}?${params.toString()}`, headers: accept === undefined ? {} : { Accept: headerSafe(accept) } }) as FuzzRequest);

const instance = `/studies/${study}/series/${series}/instances/${sop}`;
const retrieveRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom(
      `/studies/${study}`,
      `/studies/${study}/metadata`,
      `/studies/${study}/series/${series}`,
      instance,
      `${instance}/metadata`,
      `${instance}/frames/1`,
      `${instance}/frames/1,2`,
      `${instance}/frames/3`,
      `${instance}/rendered`,
      `${instance}/thumbnail`,
      `${instance}/frames/1/rendered`,
      `/studies/${study}/rendered`,
      `${instance}/bulkdata/7FE00010`,
    ),
    acceptHeader,
    fc.constantFrom('', '?quality=50', '?viewport=16,16', '?window=40,400,linear', '?quality=x&viewport=-1', '?accept=image/png'),
  )
  .map(([path, accept, query]): FuzzRequest => ({ method: 'GET', path: `${path}${query}`, headers: accept === undefined ? {} : { Accept: headerSafe(accept) } }) as FuzzRequest);

const request = fc.oneof({ weight: 2, arbitrary: stowRequest }, { weight: 2, arbitrary: qidoRequest }, { weight: 2, arbitrary: retrieveRequest });

it(`fuzzed STOW-RS, QIDO-RS and retrieve requests never get a 5xx (${RUNS} requests)`, { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  const started = Date.now();
  // A process warning (a listener leak on a keep-alive socket, say) is a defect too.
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  after(() => process.off('warning', onWarning));
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async ({ method, path, headers, body }) => {
      const res = await fetch(`${gateway.dicomWebUrl}${path}`, { method, headers, body });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `${method} ${path.slice(0, 200)} (Accept ${headers.Accept}, Content-Type ${headers['Content-Type']}): ${res.status}`);
    }),
    { numRuns: RUNS, seed: FUZZ_SEED },
  );
  assert.deepEqual(
    warnings.map((w) => `${w.name}: ${w.message}`),
    [],
  );
  const res = await fetch(`${gateway.dicomWebUrl}/studies?StudyInstanceUID=${study}`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as unknown[]).length, 1);
  console.log(`fuzz http: ${RUNS} requests in ${Date.now() - started} ms (seed ${FUZZ_SEED}); statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
});
