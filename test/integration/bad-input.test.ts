/**
 * Bad input through real HTTP against one gateway with small limits: truncated and malformed
 * multipart bodies, wrong media types, empty, non-DICOM, meta-less and truncated DICOM parts,
 * oversized bodies, parts, part counts, query strings and URLs, malformed paths and unsatisfiable
 * Accept headers. Each gets its exact 4xx or per-instance FailureReason; after each the process
 * still answers `/healthz`, and at the end every instance stored before is byte-identical, the
 * store holds exactly the expected files and QIDO counts are unchanged.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { multipartParts, stowBody, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { abandonedUpload, rawExchange, rawRequest, type RawResponse } from '../support/raw-http.js';

const MiB = 1024 * 1024;
const LIMITS = { maxPartBytes: 2 * MiB, maxBodyBytes: 8 * MiB, maxParts: 20, maxQueryLength: 1024 };
const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const DICOM_JSON = 'application/dicom+json';
const DICOM_JSON_RESPONSE = 'application/dicom+json';
const JSON_ERROR = 'application/json';
const CANNOT_UNDERSTAND = 0xc000;
const DOES_NOT_MATCH = 0xa900;
const DUPLICATE = 0x0111;
const PNG_HEADER = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** A parsed gateway response. */
interface Answer extends RawResponse {
  contentType: string | undefined;
  json: any;
}

describe('bad input', { timeout: 120_000 }, () => {
  let gw: TestGateway;
  const study = newUid();
  const seriesA = newUid();
  const seriesB = newUid();
  const baseline = [
    syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesA, sopInstanceUID: newUid(), instanceNumber: 1, seed: 1, rows: 32, columns: 32 }),
    syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesA, sopInstanceUID: newUid(), instanceNumber: 2, seed: 2, rows: 32, columns: 32, numberOfFrames: 2 }),
    syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesB, sopInstanceUID: newUid(), instanceNumber: 1, seed: 3, rows: 16, columns: 16, bitsAllocated: 8, samplesPerPixel: 3 }),
  ];
  const baselineSops: string[] = [];
  /** Instances the bad-input cases store on purpose (good parts of mixed requests). */
  const added: Buffer[] = [];
  let storeDir: string;
  let listingBefore: Map<string, string>;
  let instancesBefore: number;

  const url = (path: string) => `${gw.dicomWebUrl}${path}`;

  /** POSTs a raw body with a correct Content-Length (unless headers say otherwise). */
  const post = async (path: string, body: Buffer | Buffer[], headers: Record<string, string | number> = {}, options: { chunked?: boolean } = {}) => {
    const length = (Array.isArray(body) ? body : [body]).reduce((n, b) => n + b.length, 0);
    const all = { Accept: DICOM_JSON, ...(options.chunked ? {} : { 'Content-Length': length }), ...headers };
    return answer(await rawRequest(url(path), { method: 'POST', headers: all, body }));
  };
  /** STOW-RS of parts built by stowBody. */
  const stowParts = async (parts: Parameters<typeof stowBody>[0], path = '/studies') => {
    const { body, contentType } = stowBody(parts);
    return post(path, body, { 'Content-Type': contentType });
  };
  const getUrl = async (path: string, accept?: string) => answer(await rawRequest(url(path), { headers: accept ? { Accept: accept } : {} }));
  const qidoCount = async (path: string): Promise<number> => {
    const res = await getUrl(path, DICOM_JSON);
    assert.equal(res.status, 200, `QIDO ${path}`);
    return (res.json as unknown[]).length;
  };
  const isStored = async (sop: string) => (await qidoCount(`/instances?SOPInstanceUID=${sop}`)) > 0;

  before(async () => {
    gw = await startTestGateway({ limits: LIMITS });
    storeDir = join(gw.dataDir, 'stores', 'local');
    const res = await stowParts(baseline);
    assert.equal(res.status, 200, `baseline STOW: ${res.body.toString()}`);
    for (const instance of baseline) baselineSops.push(sopOf(instance));
    listingBefore = await listing(storeDir);
    assert.equal(listingBefore.size, baseline.length * FILES_PER_INSTANCE, 'the store holds the fragments of the baseline instances');
    instancesBefore = await qidoCount('/instances');
    assert.equal(instancesBefore, 3);
  });

  after(async () => {
    await gw?.stop();
  });

  afterEach(async () => {
    const health = await rawRequest(`${gw.url}/healthz`, { timeoutMs: 5000 });
    assert.equal(health.status, 200, 'the gateway still answers /healthz');
  });

  describe('truncated and abandoned multipart bodies', () => {
    it('a body cut inside its only part (correct Content-Length, no closing boundary): 400 MALFORMED_MULTIPART, nothing stored', async () => {
      const instance = syntheticInstance({ seed: 10 });
      const { body, contentType } = stowBody([instance]);
      for (const cut of [body.length >> 1, 60, body.length - 30, body.length - 8]) {
        const res = await post('/studies', body.subarray(0, cut), { 'Content-Type': contentType });
        expectError(res, 400, 'MALFORMED_MULTIPART', /^the multipart body ends before its closing boundary \(truncated\)$/);
      }
      assert.equal(await isStored(sopOf(instance)), false, 'the cut instance is not stored');
    });

    it('a complete first part and a truncated second: 202, the first is stored, the rest reported as malformed', async () => {
      const first = syntheticInstance({ seed: 11 });
      const second = syntheticInstance({ seed: 12 });
      const { body, contentType } = stowBody([first, second]);
      const res = await post('/studies', body.subarray(0, body.length - second.length / 2), { 'Content-Type': contentType });
      assert.equal(res.status, 202, res.body.toString());
      added.push(first);
      assert.equal(res.contentType, DICOM_JSON_RESPONSE);
      assert.equal(res.headers.connection, 'close');
      assert.deepEqual(referenced(res), [sopOf(first)]);
      assert.deepEqual(failures(res), [{ sop: undefined, reason: CANNOT_UNDERSTAND }]);
      assert.equal(res.headers.warning, '299 aegis "the multipart body ends before its closing boundary (truncated); the remaining parts were not stored"');
      assert.equal(await isStored(sopOf(first)), true, 'the complete first part is stored');
      assert.equal(await isStored(sopOf(second)), false, 'the truncated second part is not stored');
    });

    it('a client that aborts the upload mid-body: the server stays up and stores nothing partial', async () => {
      const instance = syntheticInstance({ seed: 13, rows: 256, columns: 256 });
      const { body, contentType } = stowBody([instance]);
      const half = body.subarray(0, body.length >> 1);
      const withLength = await abandonedUpload(url('/studies'), { 'Content-Type': contentType, 'Content-Length': body.length }, half);
      assert.equal(withLength.status, undefined, 'no response before the abort');
      const chunked = await abandonedUpload(url('/studies'), { 'Content-Type': contentType }, half);
      assert.equal(chunked.status, undefined, 'no response before the abort');
      const headersOnly = await abandonedUpload(url('/studies'), { 'Content-Type': contentType, 'Content-Length': body.length }, Buffer.alloc(0));
      assert.equal(headersOnly.status, undefined, 'no response before the abort');
      // Give the server the time to see the resets, then check nothing of it was kept.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await isStored(sopOf(instance)), false, 'the abandoned instance is not stored');
      assert.equal(await countTempFiles(storeDir), 0, 'no temp file is left behind');
    });
  });

  describe('framing errors that Node rejects before the gateway sees them', () => {
    it('a Content-Length shorter than the body, an invalid Content-Length, Content-Length with chunked coding: 400, nothing stored', async () => {
      const instance = syntheticInstance({ seed: 18 });
      const { body, contentType } = stowBody([instance]);
      const head = (extra: string) => `POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\n${extra}\r\n`;
      for (const request of [
        Buffer.concat([Buffer.from(head('Content-Length: 100\r\n')), body]),
        Buffer.concat([Buffer.from(head('Content-Length: abc\r\n')), body]),
        Buffer.concat([Buffer.from(head(`Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n`)), Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
      ]) {
        const answered = await rawExchange(gw.url, request);
        assert.match(answered, /^HTTP\/1\.1 400 /, 'Node answers 400');
        assert.doesNotMatch(answered, /HTTP\/1\.1 [25]\d\d /, 'nothing was stored, no server error');
      }
      assert.equal(await isStored(sopOf(instance)), false, 'nothing was stored');
    });
  });

  describe('preamble, epilogue and part headers (RFC 2046 §5.1.1)', () => {
    it('the closing delimiter and its CRLF in separate packets: 200 without Warning', async () => {
      const instance = syntheticInstance({ seed: 14 });
      const { body, contentType } = stowBody([instance]);
      const res = answer(
        await rawRequest(url('/studies'), {
          method: 'POST',
          headers: { 'Content-Type': contentType, Accept: DICOM_JSON },
          body: [body.subarray(0, body.length - 2), body.subarray(body.length - 2)],
          chunkDelayMs: 50,
        }),
      );
      assert.equal(res.status, 200, res.body.toString());
      added.push(instance);
      assert.equal(res.headers.warning, undefined);
      assert.deepEqual(referenced(res), [sopOf(instance)]);
    });

    it('a preamble and an epilogue are ignored: 200 without Warning', async () => {
      const instance = syntheticInstance({ seed: 15 });
      const { body, contentType } = stowBody([instance]);
      const res = answer(
        await rawRequest(url('/studies'), {
          method: 'POST',
          headers: { 'Content-Type': contentType, Accept: DICOM_JSON, Connection: 'keep-alive' },
          body: [Buffer.from('This is a preamble.\r\n'), body, Buffer.from('This is an epilogue.\r\n')],
          chunkDelayMs: 50,
        }),
      );
      assert.equal(res.status, 200, res.body.toString());
      added.push(instance);
      assert.equal(res.headers.warning, undefined);
      assert.notEqual(res.headers.connection, 'close', 'the connection can be reused');
    });

    it('an epilogue of more than 64 KiB is not read: 200, and the connection is closed', async () => {
      const instance = syntheticInstance({ seed: 16 });
      const { body, contentType } = stowBody([instance]);
      const epilogue = Array.from({ length: 40 }, () => Buffer.alloc(16 * 1024, 0x2e));
      const res = answer(await rawRequest(url('/studies'), { method: 'POST', headers: { 'Content-Type': contentType, Accept: DICOM_JSON }, body: [body, ...epilogue], chunkDelayMs: 5 }));
      assert.equal(res.status, 200, res.body.toString());
      added.push(instance);
      assert.equal(res.headers.connection, 'close');
    });

    it('part headers that are not UTF-8: 400 MALFORMED_MULTIPART', async () => {
      const boundary = 'latin1-headers';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Description: `),
        Buffer.from([0xff, 0xfe, 0xe9]),
        Buffer.from('\r\n\r\n'),
        syntheticInstance({ seed: 17 }),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await post('/studies', body, { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` });
      expectError(res, 400, 'MALFORMED_MULTIPART', /^the headers of a part are not valid UTF-8$/);
    });
  });

  describe('Content-Type and boundary', () => {
    const instance = syntheticInstance({ seed: 20 });
    const { body, boundary } = stowBody([instance]);

    it('a multipart/related Content-Type without boundary: 400 MALFORMED_MULTIPART', async () => {
      const res = await post('/studies', body, { 'Content-Type': 'multipart/related; type="application/dicom"' });
      expectError(res, 400, 'MALFORMED_MULTIPART', /no boundary parameter/);
    });

    it('a boundary that the body does not use: 400 MALFORMED_MULTIPART', async () => {
      const res = await post('/studies', body, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=not-the-one' });
      expectError(res, 400, 'MALFORMED_MULTIPART', /does not start with the boundary given in the Content-Type/);
    });

    it('a boundary longer than 200 characters: 400 MALFORMED_MULTIPART', async () => {
      const long = 'b'.repeat(201);
      const res = await post('/studies', body, { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${long}` });
      expectError(res, 400, 'MALFORMED_MULTIPART', /longer than 200/);
    });

    it('no Content-Type, application/dicom, type="application/dicom+json" and multipart/form-data: 415', async () => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{}, /without Content-Type/],
        [{ 'Content-Type': 'application/dicom' }, /not application\/dicom/],
        [{ 'Content-Type': `multipart/related; type="application/dicom+json"; boundary=${boundary}` }, /application\/dicom\+json are not supported/],
        [{ 'Content-Type': `multipart/form-data; boundary=${boundary}` }, /not multipart\/form-data/],
        [{ 'Content-Type': 'text/plain' }, /not text\/plain/],
        [{ 'Content-Type': 'garbage' }, /not garbage/],
      ];
      for (const [headers, message] of cases) {
        const res = await post('/studies', headers['Content-Type'] === 'application/dicom' ? instance : body, headers);
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', message);
      }
      assert.equal(await isStored(sopOf(instance)), false, 'nothing was stored');
    });

    it('an unquoted type parameter and a quoted boundary are understood (control)', async () => {
      const quoted = syntheticInstance({ seed: 21 });
      const made = stowBody([quoted], 'a=b:c(d)');
      const res = await post('/studies', made.body, { 'Content-Type': `multipart/related; type=application/dicom; boundary="a=b:c(d)"` });
      assert.equal(res.status, 200, res.body.toString());
      added.push(quoted);
    });
  });

  describe('empty, non-DICOM and meta-less parts', () => {
    it('a zero-byte part: 409 with 0xC000', async () => {
      const res = await stowParts([Buffer.alloc(0)]);
      expectStowFailure(res, 409, [CANNOT_UNDERSTAND], /"empty part"/);
    });

    it('zero parts (only the closing delimiter) and an empty body: 400 MALFORMED_MULTIPART', async () => {
      const boundary = 'zero-parts';
      const contentType = `multipart/related; type="application/dicom"; boundary=${boundary}`;
      expectError(await post('/studies', Buffer.from(`--${boundary}--\r\n`), { 'Content-Type': contentType }), 400, 'MALFORMED_MULTIPART', /no parts/);
      expectError(await post('/studies', Buffer.alloc(0), { 'Content-Type': contentType }), 400, 'MALFORMED_MULTIPART', /^the request body is empty$/);
    });

    it('random bytes, a PNG and a text file sent as application/dicom: 409 with 0xC000 each and the reason', async () => {
      const res = await stowParts([randomBytes(4096), PNG_HEADER, Buffer.from('not a DICOM file\n')]);
      expectStowFailure(res, 409, [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND, CANNOT_UNDERSTAND], /missing 'DICM' prefix/);
      assert.equal(String(res.headers.warning).split(/, (?=299 )/).length, 3, 'one Warning per failed part');
    });

    it('a part whose own Content-Type is not application/dicom: 0xC000', async () => {
      const res = await stowParts([
        { bytes: Buffer.from('hello'), contentType: 'text/plain' },
        { bytes: syntheticInstance({ seed: 30 }), contentType: 'image/png' },
      ]);
      expectStowFailure(res, 409, [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND], /part media type text\/plain is not application\/dicom/);
    });

    it('files without a meta header (pydicom no_meta.dcm, a synthetic instance without its first 132 bytes): 0xC000', async () => {
      const noMeta = await readFile(join(PYDICOM, 'no_meta.dcm'));
      const stripped = syntheticInstance({ seed: 31 }).subarray(132);
      const res = await stowParts([noMeta, stripped]);
      expectStowFailure(res, 409, [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND], /no DICOM Part 10 meta header/);
    });

    it('truncated DICOM (pydicom MR_truncated.dcm, rtplan_truncated.dcm, half a synthetic instance): 0xC000', async () => {
      const half = syntheticInstance({ seed: 32 });
      const res = await stowParts([await readFile(join(PYDICOM, 'MR_truncated.dcm')), await readFile(join(PYDICOM, 'rtplan_truncated.dcm')), half.subarray(0, half.length >> 1)]);
      expectStowFailure(res, 409, [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND, CANNOT_UNDERSTAND], /truncated/);
      assert.equal(await isStored(sopOf(half)), false, 'the truncated instance is not stored');
    });

    it('a mix of good and bad parts: 202 with ReferencedSOPSequence for the good ones, FailedSOPSequence for the others', async () => {
      const good1 = syntheticInstance({ seed: 40 });
      const good2 = syntheticInstance({ seed: 41 });
      const conflicting = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesA, sopInstanceUID: baselineSops[0], seed: 99, rows: 32, columns: 32 });
      const res = await stowParts([good1, Buffer.alloc(0), randomBytes(300), conflicting, good2]);
      assert.equal(res.status, 202, res.body.toString());
      assert.equal(res.contentType, DICOM_JSON_RESPONSE);
      assert.deepEqual(referenced(res), [sopOf(good1), sopOf(good2)]);
      assert.deepEqual(failures(res), [
        { sop: undefined, reason: CANNOT_UNDERSTAND },
        { sop: undefined, reason: CANNOT_UNDERSTAND },
        { sop: baselineSops[0], reason: DUPLICATE },
      ]);
      assert.match(String(res.headers.warning), /empty part.*DICM.*already stored/s);
      added.push(good1, good2);
    });

    it('STOW to /studies/{study} with an instance of another study: 0xA900 for it, 202 for the rest', async () => {
      const own = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesB, seed: 42, rows: 16, columns: 16 });
      const foreign = syntheticInstance({ seed: 43 });
      const res = await stowParts([foreign, own], `/studies/${study}`);
      assert.equal(res.status, 202, res.body.toString());
      assert.deepEqual(referenced(res), [sopOf(own)]);
      assert.deepEqual(failures(res), [{ sop: sopOf(foreign), reason: DOES_NOT_MATCH }]);
      assert.match(String(res.headers.warning), /does not match the study/);
      added.push(own);
    });
  });

  describe('oversized bodies, parts and part counts', () => {
    it('a Content-Length above maxBodyBytes: 413 before the body is read', async () => {
      const contentType = 'multipart/related; type="application/dicom"; boundary=big';
      const res = answer(
        await rawRequest(url('/studies'), {
          method: 'POST',
          headers: { 'Content-Type': contentType, 'Content-Length': 100 * MiB, Accept: DICOM_JSON },
          body: Buffer.from('--big\r\n\r\n'),
          end: false,
          timeoutMs: 5000,
        }),
      );
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /104857600 bytes exceeds the limit of 8388608/);
      assert.equal(res.headers.connection, 'close');
    });

    it('a chunked body exceeding maxBodyBytes: 413', async () => {
      const part = randomBytes(1.5 * MiB);
      const { body, contentType } = stowBody([part, part, part, part, part, part]);
      const chunks: Buffer[] = [];
      for (let i = 0; i < body.length; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
      const res = await post('/studies', chunks, { 'Content-Type': contentType }, { chunked: true });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /body exceeds the largest allowed size/);
    });

    it('a part larger than maxPartBytes: 413', async () => {
      const res = await stowParts([randomBytes(2 * MiB + 1)]);
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /a part exceeds the largest allowed instance size/);
    });

    it('more than maxParts parts: 413', async () => {
      const parts = Array.from({ length: LIMITS.maxParts + 1 }, () => Buffer.from('x'));
      const res = await stowParts(parts);
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /more parts than allowed/);
    });

    it('a good instance followed by an oversized part: the instance is stored, 202 with a Warning', async () => {
      const good = syntheticInstance({ seed: 50 });
      const res = await stowParts([good, randomBytes(2 * MiB + 1)]);
      assert.equal(res.status, 202, res.body.toString());
      assert.deepEqual(referenced(res), [sopOf(good)]);
      assert.deepEqual(failures(res), [{ sop: undefined, reason: CANNOT_UNDERSTAND }]);
      assert.match(String(res.headers.warning), /a part exceeds the largest allowed instance size; the remaining parts were not stored/);
      added.push(good);
    });
  });

  describe('oversized query strings and URLs', () => {
    it('a QIDO query string above maxQueryLength: 414 URI_TOO_LONG; just below it: 200', async () => {
      const over = await getUrl(`/studies?PatientID=${'x'.repeat(LIMITS.maxQueryLength)}`, DICOM_JSON);
      expectError(over, 414, 'URI_TOO_LONG', /exceeds 1024 bytes/);
      let uids = `StudyInstanceUID=${study}`;
      while (uids.length + 46 <= LIMITS.maxQueryLength) uids += `\\${newUid()}`.slice(0, 46);
      const under = await getUrl(`/studies?${uids}`, DICOM_JSON);
      assert.equal(under.status, 200, under.body.toString());
      assert.equal((under.json as unknown[]).length, 1);
    });

    it('a 100 KB URL: Node answers 431 and the process stays up', async () => {
      const res = await rawRequest(url(`/studies?PatientID=${'x'.repeat(100 * 1024)}`), { timeoutMs: 5000 });
      assert.equal(res.status, 431);
    });
  });

  describe('malformed paths, routes and methods', () => {
    it('invalid UIDs in the path: 400 INVALID_UID for WADO, QIDO, STOW and DELETE', async () => {
      const long = `1.${'2'.repeat(64)}`;
      for (const path of [`/studies/1.2.abc`, `/studies/${study}/series/x..y`, `/studies/${study}/series/${seriesA}/instances/01.2`, `/studies/${long}/metadata`, `/studies/not-a-uid/series`]) {
        expectError(await getUrl(path, STORED), 400, 'INVALID_UID', /is not a valid DICOM UID/);
      }
      const { body, contentType } = stowBody([syntheticInstance({ seed: 60 })]);
      expectError(await post('/studies/1.2.abc', body, { 'Content-Type': contentType }), 400, 'INVALID_UID', /Study Instance UID '1.2.abc'/);
      expectError(answer(await rawRequest(url('/studies/1.2.abc'), { method: 'DELETE' })), 400, 'INVALID_UID', /Study Instance UID/);
    });

    it('percent-encoding garbage in the path: 400, not 500', async () => {
      for (const path of ['/studies/%E0%A4%A', '/studies/%ZZ/series', '/studies/%C0%80/metadata', `/studies/${study}/series/%/instances`]) {
        const res = await getUrl(path, STORED);
        expectError(res, 400, 'BAD_REQUEST', /percent-encoding|malformed/);
      }
    });

    it('an unknown route: 404 JSON', async () => {
      expectError(await getUrl('/nothing-here'), 404, 'NOT_FOUND', /no resource at GET \/dicom-web\/nothing-here/);
      expectError(answer(await rawRequest(`${gw.url}/`)), 404, 'NOT_FOUND', /no resource/);
    });

    it('a method the resource does not support: 405 JSON with Allow', async () => {
      const put = answer(await rawRequest(url('/studies'), { method: 'PUT', headers: { 'Content-Type': 'application/dicom', 'Content-Length': 4 }, body: Buffer.from('DICM') }));
      expectError(put, 405, 'METHOD_NOT_ALLOWED', /^PUT is not supported on \/dicom-web\/studies; use GET, HEAD, POST$/);
      assert.equal(put.headers.allow, 'GET, HEAD, POST');
      const deleteSeriesSearch = answer(await rawRequest(url(`/studies/${study}/series`), { method: 'DELETE' }));
      expectError(deleteSeriesSearch, 405, 'METHOD_NOT_ALLOWED', /DELETE is not supported/);
      assert.equal(deleteSeriesSearch.headers.allow, 'GET, HEAD');
      const patchInstance = answer(await rawRequest(url(`/studies/${study}/series/${seriesA}/instances/${baselineSops[0]}`), { method: 'PATCH' }));
      expectError(patchInstance, 405, 'METHOD_NOT_ALLOWED', /PATCH is not supported/);
      assert.equal(patchInstance.headers.allow, 'DELETE, GET, HEAD');
    });
  });

  describe('unsatisfiable Accept headers', () => {
    it('WADO-RS with Accept: text/html: 406', async () => {
      const res = await getUrl(`/studies/${study}`, 'text/html');
      expectError(res, 406, 'NOT_ACCEPTABLE', /cannot provide text\/html/);
    });

    it('QIDO-RS with Accept: application/xml: 406', async () => {
      const res = await getUrl(`/studies?StudyInstanceUID=${study}`, 'application/xml');
      expectError(res, 406, 'NOT_ACCEPTABLE', /cannot provide application\/xml/);
    });

    it('STOW-RS with Accept: text/html: 406 and nothing stored', async () => {
      const instance = syntheticInstance({ seed: 70 });
      const { body, contentType } = stowBody([instance]);
      const res = await post('/studies', body, { 'Content-Type': contentType, Accept: 'text/html' });
      expectError(res, 406, 'NOT_ACCEPTABLE', /cannot provide text\/html/);
      assert.equal(await isStored(sopOf(instance)), false, 'nothing was stored');
    });
  });

  it('afterwards, every instance stored before is byte-identical, the store holds exactly the expected files and QIDO counts are unchanged', async () => {
    for (const instance of baseline) {
      const res = await getUrl(`/studies/${study}/series/${seriesOf(instance)}/instances/${sopOf(instance)}`, STORED);
      assert.equal(res.status, 200);
      const parts = multipartParts(res.body, res.contentType!);
      assert.equal(parts.length, 1);
      assert.equal(sha(parts[0].bytes), sha(instance), `instance ${sopOf(instance)} is byte-identical`);
    }
    const now = await listing(storeDir);
    for (const [file, digest] of listingBefore) assert.equal(now.get(file), digest, `${file} is unchanged`);
    assert.equal(now.size, (baseline.length + added.length) * FILES_PER_INSTANCE, 'the store holds exactly the fragments of the stored instances, nothing partial');
    assert.equal(await qidoCount(`/studies/${study}/series/${seriesA}/instances`), 2);
    assert.equal(await qidoCount('/instances'), instancesBefore + added.length);
    const [studyRow] = (await getUrl(`/studies?StudyInstanceUID=${study}`, DICOM_JSON)).json;
    const addedToStudy = added.filter((instance) => uidAfter(instance, STUDY_UID_HEADER) === study).length;
    assert.equal(value(studyRow, '00201208'), baseline.length + addedToStudy, 'the baseline study has only the instances stored on purpose');
  });
});

// ---------------------------------------------------------------------------------------------

function answer(res: RawResponse): Answer {
  const contentType = res.headers['content-type'];
  let json: any;
  if (contentType && /json/.test(contentType) && res.body.length > 0) json = JSON.parse(res.body.toString());
  return { ...res, contentType, json };
}

/** A whole-request error: exact status, JSON media type, code, message and request id. */
function expectError(res: Answer, status: number, code: string, message: RegExp): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.body.toString().slice(0, 300)}`);
  assert.equal(res.contentType, JSON_ERROR);
  assert.equal(res.json.error.code, code);
  assert.match(res.json.error.message, message);
  assert.equal(res.json.error.requestId, res.headers['x-request-id']);
}

/** A STOW-RS response listing failures only (or also stored instances when status is 202). */
function expectStowFailure(res: Answer, status: number, reasons: number[], warning: RegExp): void {
  assert.equal(res.status, status, res.body.toString().slice(0, 300));
  assert.equal(res.contentType, DICOM_JSON_RESPONSE);
  assert.deepEqual(
    failures(res).map((f) => f.reason),
    reasons,
  );
  if (status === 409) assert.equal(res.json['00081199'], undefined);
  assert.match(String(res.headers.warning), warning);
  assert.match(String(res.headers.warning), /^299 aegis "/);
}

function referenced(res: Answer): string[] {
  return ((res.json['00081199']?.Value ?? []) as any[]).map((item) => value(item, '00081155'));
}

function failures(res: Answer): Array<{ sop: string | undefined; reason: number }> {
  return ((res.json['00081198']?.Value ?? []) as any[]).map((item) => ({ sop: value(item, '00081155'), reason: value(item, '00081197') }));
}

/** SOP Instance UID (0008,0018) of a synthetic instance, from its meta header (0002,0003). */
function sopOf(instance: Buffer): string {
  return uidAfter(instance, Buffer.from([0x02, 0x00, 0x03, 0x00, 0x55, 0x49]));
}

const STUDY_UID_HEADER = Buffer.from([0x20, 0x00, 0x0d, 0x00, 0x55, 0x49]);

function seriesOf(instance: Buffer): string {
  return uidAfter(instance, Buffer.from([0x20, 0x00, 0x0e, 0x00, 0x55, 0x49]));
}

function uidAfter(instance: Buffer, header: Buffer): string {
  const at = instance.indexOf(header);
  if (at < 0) throw new Error('UID element not found');
  const length = instance.readUInt16LE(at + 6);
  return instance.toString('latin1', at + 8, at + 8 + length).replace(/\0+$/, '');
}

/**
 * Files one protected instance (native pixels) leaves in the store of the embedded default: the
 * bundle of its skeleton, identity, label map and two pixel regions, and the manifest copy
 * (gateway/services/fragment-bundles.ts).
 */
const FILES_PER_INSTANCE = 2;

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every file under `dir` (relative path, `/`-separated) with its SHA-256. */
async function listing(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(
      path
        .slice(dir.length + 1)
        .split('\\')
        .join('/'),
      sha(await readFile(path)),
    );
  }
  return out;
}

async function countTempFiles(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true })).filter((name) => String(name).split('/').pop()!.startsWith('~')).length;
}
