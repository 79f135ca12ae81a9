/**
 * The whole python3-pydicom sample corpus through real HTTP: every file is sent in its own STOW-RS
 * request and is either stored and served back exactly, or rejected with a clear reason.
 *
 * Stored files: WADO-RS with `transfer-syntax=*` returns the received bytes, byte for byte, in a
 * part whose Content-Type names the file's transfer syntax; `/metadata` equals pydicom's
 * `Dataset.to_json_dict()` (the rules of test/support/pydicom-expectations.ts, which the parser
 * unit test test/unit/dicom/corpus.test.ts applies too, here via HTTP), its BulkDataURIs are
 * absolute and every one of them returns exactly pydicom's bytes of the value, and the same metadata
 * as `multipart/related; type="application/dicom+xml"` is well-formed and equal to it; QIDO-RS finds the
 * instance with its SOP Class UID and Number of Frames; all frames, in one request, hash like
 * pydicom's frames.
 * Rejected files: 409 with FailureReason 0xC000 and a Warning header that says why (the expected
 * reason, from the list the parser unit test uses too); the gateway answers /healthz right after
 * every refusal. No response of the whole run is a 5xx.
 *
 * SOP Instance UIDs shared by several files (the same instance in other transfer syntaxes, or
 * edited copies: MR_small*.dcm, rtdose*.dcm, SC_rgb_rle*.dcm, ...): the first gateway receives
 * every file of the corpus once, in sorted order, so a file whose SOP Instance UID (as pydicom
 * reads it) is already stored there with different bytes must be refused with 409 / 0x0111 and a
 * Warning that says so; the test checks exactly that. To still check those files end to end, each
 * file refused as a duplicate is then stored in a fresh gateway (its own data directory), round
 * after round, until every storable file is stored somewhere (8 rounds for the 8 MR_small files).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keywordForTag } from '../../gateway/dicom/dictionary.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { comparableJson, readNativeXml } from '../support/native-xml.js';
import { corpusFiles, PYDICOM_DATA } from '../support/corpus.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { compareBulkData, compareDataSet, expectedRejection, normaliseValue, storedWarning } from '../support/pydicom-expectations.js';
import { pydicomReference, type PydicomResult } from '../support/pydicom-reference.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const FRAMES = 'multipart/related; type=application/octet-stream; transfer-syntax=*';
/** Bulk data as stored (without transfer-syntax=*, compressed Pixel Data comes decoded: test/integration/transcode.test.ts). */
const BULK = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
const DICOM_JSON = 'application/dicom+json';
const DICOM_XML = 'multipart/related; type="application/dicom+xml"';
const CANNOT_UNDERSTAND = 0xc000;
const DUPLICATE = 0x0111;
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Native (not encapsulated) transfer syntaxes; the little-endian ones share their pixel bytes. */
const LITTLE_ENDIAN_NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99']);
const NATIVE = new Set([...LITTLE_ENDIAN_NATIVE, '1.2.840.10008.1.2.2']);
const MAX_ROUNDS = 16;

/**
 * The pattern the Warning of a refused file must match: the parser's expected reason
 * ({@link expectedRejection}), which the gateway quotes in a `299 aegis "..."` Warning header.
 */
function expectedWarning(file: string): RegExp | undefined {
  return expectedRejection(file);
}

type Json = Record<string, any>;
type ReadableRef = Extract<PydicomResult, { transferSyntax: string }>;

/** One STOW-RS answer. */
interface StowAnswer {
  status: number;
  warning: string | null;
  json: Json | undefined;
}

/** What happened to one file. */
interface Outcome {
  bytes: Buffer;
  sha256: string;
  /** The answer of the first gateway, which received the whole corpus. */
  first: StowAnswer;
  /** The SOP Instance UID pydicom reads, if any. */
  sop?: string;
  /** Where the file is stored (round index) and the ReferencedSOPSequence item, once stored. */
  stored?: { gw: TestGateway; round: number; item: Json };
  /** In rounds before `stored`: the file it collided with (0x0111), per round. */
  duplicateOf: string[];
  /** Anything unexpected during STOW (checked by the file's test). */
  problems: string[];
}

const files = corpusFiles();
const reference = pydicomReference(files);
const nameOf = (file: string) => relative(PYDICOM_DATA, file);
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const first = (dataset: Json | undefined, tag: string): any => dataset?.[tag]?.Value?.[0];

/** What happened to each file (filled by the `before` hook). */
const outcomes = new Map<string, Outcome>();

/** Every HTTP exchange of the run, so that the last test can prove none was a 5xx. */
const exchanges: Array<{ method: string; url: string; status: number }> = [];

async function http(url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  exchanges.push({ method: init.method ?? 'GET', url, status: res.status });
  assert.ok(res.status < 500, `${init.method ?? 'GET'} ${url} answered ${res.status}: ${body.toString().slice(0, 300)}`);
  return { status: res.status, headers: res.headers, body };
}

async function stowOne(gw: TestGateway, bytes: Buffer): Promise<StowAnswer> {
  const { body, contentType } = stowBody([bytes]);
  const res = await http(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: DICOM_JSON }, body });
  const text = res.body.toString();
  let json: Json | undefined;
  try {
    json = text ? (JSON.parse(text) as Json) : undefined;
  } catch {
    json = { unparsable: text.slice(0, 300) };
  }
  return { status: res.status, warning: res.headers.get('warning'), json };
}

/** The human-readable reason of a `299 aegis "..."` Warning header (one warning): its quoted-pairs and percent-escapes decoded. */
function warningText(warning: string | null): string | undefined {
  const quoted = warning === null ? undefined : /^299 aegis "((?:[^"\\]|\\.)*)"$/.exec(warning)?.[1];
  return quoted === undefined ? undefined : decodeURIComponent(quoted.replace(/\\(.)/g, '$1'));
}

describe(`the pydicom corpus through DICOMweb (${files.length} files, pydicom ${reference.version})`, { timeout: 180_000 }, () => {
  const gateways: TestGateway[] = [];
  const rejectionReasons = new Map<string, number>();

  before(async () => {
    for (const file of files) {
      const bytes = readFileSync(file);
      const ref = reference.files[file];
      const sop = ref !== undefined && !('error' in ref) ? (first(ref.json, '00080018') as string | undefined) : undefined;
      outcomes.set(file, { bytes, sha256: sha(bytes), first: undefined as never, sop, duplicateOf: [], problems: [] });
    }
    let pending = files;
    for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
      const gw = await startTestGateway();
      gateways.push(gw);
      /** SOP Instance UID -> the file stored under it in this gateway. */
      const here = new Map<string, string>();
      const next: string[] = [];
      for (const file of pending) {
        const outcome = outcomes.get(file)!;
        const answer = await stowOne(gw, outcome.bytes);
        if (round === 0) outcome.first = answer;
        if (answer.status !== 200) {
          // Right after each refusal, the process still answers.
          const health = await http(`${gw.url}/healthz`);
          if (health.status !== 200) outcome.problems.push(`round ${round}: /healthz answered ${health.status} after the refusal`);
        }
        const failed = answer.json?.['00081198']?.Value?.[0] as Json | undefined;
        const reason = first(failed, '00081197') as number | undefined;
        if (answer.status === 200 || answer.status === 202) {
          const item = answer.json?.['00081199']?.Value?.[0] as Json | undefined;
          if (item === undefined) {
            outcome.problems.push(`round ${round}: 200 without ReferencedSOPSequence: ${JSON.stringify(answer.json)}`);
            continue;
          }
          const sop = first(item, '00081155') as string;
          const earlier = here.get(sop);
          // A 200 for an already stored SOP Instance UID is only right for identical bytes.
          if (earlier !== undefined && outcomes.get(earlier)!.sha256 !== outcome.sha256) {
            outcome.problems.push(`round ${round}: stored over ${nameOf(earlier)} (same SOP Instance UID ${sop}, other bytes)`);
          }
          if (earlier === undefined) here.set(sop, file);
          outcome.stored = { gw, round, item };
        } else if (answer.status === 409 && reason === DUPLICATE) {
          const earlier = outcome.sop === undefined ? undefined : here.get(outcome.sop);
          if (earlier === undefined) {
            outcome.problems.push(`round ${round}: 0x0111 although no other file with SOP Instance UID ${outcome.sop} is stored here (${answer.warning})`);
          } else {
            outcome.duplicateOf.push(earlier);
            next.push(file);
          }
        } else if (round > 0) {
          outcome.problems.push(`round ${round}: ${answer.status} ${JSON.stringify(answer.json)} ${answer.warning}`);
        }
      }
      pending = next;
    }
    for (const file of pending) outcomes.get(file)!.problems.push(`still refused as a duplicate after ${MAX_ROUNDS} gateways`);
  });

  after(async () => {
    await Promise.all(gateways.map((gw) => gw.stop()));
  });

  for (const file of files) {
    const name = nameOf(file);
    it(name, async () => {
      const outcome = outcomes.get(file)!;
      assert.deepEqual(outcome.problems, [], 'the STOW-RS exchanges went as expected');
      const expected = expectedWarning(file);
      if (outcome.stored === undefined) {
        checkRejection(outcome, expected);
        const reason = warningText(outcome.first.warning)!;
        rejectionReasons.set(reason, (rejectionReasons.get(reason) ?? 0) + 1);
        return;
      }
      assert.equal(expected, undefined, `stored, but expected a rejection matching ${String(expected)}`);
      if (outcome.duplicateOf.length > 0) checkDuplicateRejection(outcome);
      else assert.equal(outcome.first.status, storedWarning(file) === undefined ? 200 : 202, 'the first gateway stored it');
      const warned = storedWarning(file);
      if (warned !== undefined) {
        assert.equal(first(outcome.stored.item, '00081196'), 0xb007, 'WarningReason: Data Set does not match SOP Class');
        assert.match(warningText(outcome.first.warning) ?? '', warned);
      }
      const ref = reference.files[file];
      assert.ok(ref !== undefined && !('error' in ref), `pydicom cannot read a file Aegis stores: ${JSON.stringify(ref)}`);
      await checkStored(outcome, ref);
    });
  }

  it('answered no request with a 5xx, still answers /healthz, and QIDO counts what was stored', async (t) => {
    for (const gw of gateways) {
      const health = await http(`${gw.url}/healthz`);
      assert.equal(health.status, 200, '/healthz');
      const all = await http(`${gw.dicomWebUrl}/instances?limit=1000`, { headers: { Accept: DICOM_JSON } });
      const distinct = new Set([...outcomes.values()].filter((o) => o.stored?.gw === gw).map((o) => first(o.stored!.item, '00081155')));
      assert.equal((JSON.parse(all.body.toString()) as Json[]).length, distinct.size, `instances in gateway ${gateways.indexOf(gw)}`);
    }
    const serverErrors = exchanges.filter((e) => e.status >= 500);
    assert.deepEqual(serverErrors, [], 'no 5xx');
    const stored = [...outcomes.values()].filter((o) => o.stored !== undefined);
    const duplicates = stored.filter((o) => o.duplicateOf.length > 0).length;
    const identical = stored.filter((o) => o.stored!.round === 0 && o.sop !== undefined && [...outcomes.values()].some((p) => p !== o && p.sha256 === o.sha256 && p.stored?.gw === o.stored!.gw)).length / 2;
    const rejected = [...outcomes.values()].filter((o) => o.stored === undefined).length;
    t.diagnostic(
      `${files.length} files: stored ${stored.length} (${duplicates} of them refused as duplicates (0x0111) by the first gateway and stored in ` +
        `${gateways.length - 1} more; ${identical} byte-identical copy pair(s) re-stored idempotently with 200), rejected ${rejected}; ` +
        `${exchanges.length} HTTP requests, none 5xx`,
    );
    for (const [reason, count] of [...rejectionReasons].sort((a, b) => b[1] - a[1])) t.diagnostic(`  rejected ${count}x: ${reason.slice(0, 160)}`);
  });
});

/** A file the gateway refused: 409, FailureReason 0xC000, the expected human-readable reason. */
function checkRejection(outcome: Outcome, expected: RegExp | undefined): void {
  const answer = outcome.first;
  const text = warningText(answer.warning);
  assert.ok(expected !== undefined, `unexpectedly rejected: ${answer.status} ${answer.warning} ${JSON.stringify(answer.json)}`);
  assert.equal(answer.status, 409, 'a request whose only instance fails is 409');
  assert.equal(answer.json?.['00081199'], undefined, 'nothing stored');
  const failed = answer.json?.['00081198']?.Value as Json[] | undefined;
  assert.equal(failed?.length, 1, 'one FailedSOPSequence item');
  assert.equal(first(failed![0], '00081197'), CANNOT_UNDERSTAND, 'FailureReason 0xC000');
  assert.ok(failed![0]['00081150'] !== undefined && failed![0]['00081155'] !== undefined, 'the item has Referenced SOP Class and Instance UID attributes');
  if (outcome.sop !== undefined && first(failed![0], '00081155') !== undefined) {
    assert.equal(first(failed![0], '00081155'), outcome.sop, 'the failed item names the SOP Instance UID');
  }
  assert.ok(text !== undefined && text.trim().length > 0, `a Warning header with a reason: ${answer.warning}`);
  assert.match(text!, expected!);
}

/** The first gateway refused the file as a duplicate: 409, 0x0111, the UID, a clear Warning. */
function checkDuplicateRejection(outcome: Outcome): void {
  const answer = outcome.first;
  assert.equal(answer.status, 409, 'a duplicate SOP Instance UID with other bytes is 409');
  const failed = answer.json?.['00081198']?.Value as Json[] | undefined;
  assert.equal(failed?.length, 1, 'one FailedSOPSequence item');
  assert.equal(first(failed![0], '00081197'), DUPLICATE, 'FailureReason 0x0111');
  assert.equal(first(failed![0], '00081155'), outcome.sop, 'the item names the SOP Instance UID');
  const text = warningText(answer.warning);
  assert.ok(text !== undefined, `a Warning header: ${answer.warning}`);
  assert.match(text!, new RegExp(`different instance with SOP Instance UID ${outcome.sop!.replaceAll('.', '\\.')} is already stored`));
  assert.notEqual(outcomes.get(outcome.duplicateOf[0])!.sha256, outcome.sha256, 'the file it collided with has other bytes');
}

/** Everything a client can read of a stored file equals the file, as pydicom reads it. */
async function checkStored(outcome: Outcome, ref: ReadableRef): Promise<void> {
  const { gw, item } = outcome.stored!;
  const ts = ref.transferSyntax;
  const study = first(ref.json, '0020000D') as string;
  const series = first(ref.json, '0020000E') as string;
  const sop = first(ref.json, '00080018') as string;
  const instanceUrl = `${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`;
  assert.equal(first(item, '00081155'), sop, 'ReferencedSOPInstanceUID');
  assert.equal(first(item, '00081150'), first(ref.json, '00080016'), 'ReferencedSOPClassUID');
  assert.equal(first(item, '00081190'), instanceUrl, 'RetrieveURL');

  // WADO-RS instance, as stored.
  const retrieved = await http(instanceUrl, { headers: { Accept: STORED } });
  assert.equal(retrieved.status, 200, 'instance retrieve');
  const parts = multipartParts(retrieved.body, retrieved.headers.get('content-type')!);
  assert.equal(parts.length, 1, 'one part');
  assert.equal(parts[0].headers['content-type'], `application/dicom; transfer-syntax=${ts}`, 'part Content-Type');
  assert.equal(parts[0].headers['content-location'], instanceUrl, 'part Content-Location');
  assert.ok(parts[0].bytes.equals(outcome.bytes), `byte-identical (${parts[0].bytes.length} bytes, sha ${sha(parts[0].bytes)}; file ${outcome.bytes.length}, ${outcome.sha256})`);

  // Metadata against pydicom.
  const metadata = await http(`${instanceUrl}/metadata`, { headers: { Accept: DICOM_JSON } });
  assert.equal(metadata.status, 200, 'metadata');
  const datasets = JSON.parse(metadata.body.toString()) as Json[];
  assert.equal(datasets.length, 1, 'one data set');
  const ours = { ...datasets[0] };
  // Added by the gateway (PS3.18 Table 10.6.3-3 style): the transfer syntax it serves.
  if (!('00083002' in ref.json)) {
    assert.deepEqual(ours['00083002'], { vr: 'UI', Value: [ts] }, 'AvailableTransferSyntaxUID');
    delete ours['00083002'];
  }
  const differences: string[] = [];
  const bulk: Array<{ where: string; uri: string; theirs: Buffer | undefined }> = [];
  // BulkDataURIs must be absolute; the bytes behind each are fetched over HTTP below.
  compareDataSet(
    ours,
    ref.json,
    {
      encapsulated: !NATIVE.has(ts),
      bulkDataURI: (where) => `${instanceUrl}/bulkdata/${where}`,
      onBulkData: (where, uri, theirs) => bulk.push({ where, uri, theirs }),
    },
    differences,
  );
  for (const { where, uri, theirs } of bulk) {
    const res = await http(uri, { headers: { Accept: BULK } });
    if (res.status !== 200) {
      differences.push(`${where}: GET ${uri} answered ${res.status}`);
      continue;
    }
    const [part] = multipartParts(res.body, res.headers.get('content-type')!);
    compareBulkData(where, part.bytes, theirs, differences);
  }
  assert.ok(ref.json['7FE00010'] === undefined || bulk.some((b) => b.where === '7FE00010'), 'Pixel Data is bulk data');
  assert.deepEqual(differences, [], `metadata differs from pydicom:\n${differences.join('\n')}`);

  // The same metadata as the PS3.19 Native DICOM Model: well-formed, and equal to the JSON.
  const xml = await http(`${instanceUrl}/metadata`, { headers: { Accept: DICOM_XML } });
  assert.equal(xml.status, 200, 'metadata as dicom+xml');
  const [xmlPart] = multipartParts(xml.body, xml.headers.get('content-type')!);
  assert.deepEqual(readNativeXml(xmlPart.bytes.toString('utf8')).dataset, comparableJson(datasets[0], keywordForTag), 'the XML metadata equals the JSON');

  // QIDO-RS.
  const qido = await http(`${gw.dicomWebUrl}/instances?SOPInstanceUID=${sop}`, { headers: { Accept: DICOM_JSON } });
  assert.equal(qido.status, 200, 'QIDO-RS');
  const matches = JSON.parse(qido.body.toString()) as Json[];
  assert.equal(matches.length, 1, 'one match');
  assert.equal(first(matches[0], '00080018'), sop, 'QIDO SOPInstanceUID');
  assert.equal(first(matches[0], '00080016'), first(ref.json, '00080016'), 'QIDO SOPClassUID');
  const frameCount = ref.json['00280008'];
  assert.deepEqual(matches[0]['00280008']?.Value, frameCount?.error === undefined ? normaliseValue(frameCount?.Value, 'IS') : matches[0]['00280008'].Value.map(String), 'QIDO NumberOfFrames');
  assert.equal(first(matches[0], '00081190'), instanceUrl, 'QIDO RetrieveURL');

  // Frames.
  if (ref.framesError !== undefined && outcome.first.status === 202) {
    // Stored with a warning, its pixel data as opaque bytes: no frames to serve, and a client error that says why.
    const unreadable = await http(`${instanceUrl}/frames/1`, { headers: { Accept: FRAMES } });
    assert.equal(unreadable.status, 404, 'frames of pixel data that cannot be read as frames');
    assert.match(unreadable.body.toString(), /cannot be read as frames/);
    return;
  }
  if (ref.framesError !== undefined) assert.fail(`pydicom could not split the frames: ${ref.framesError}`);
  const frames = ref.frames ?? null;
  if (frames === null) {
    const none = await http(`${instanceUrl}/frames/1`, { headers: { Accept: FRAMES } });
    assert.equal(none.status, 404, 'no pixel data: frames are 404');
    return;
  }
  // pydicom hashes bit-packed pixel data (BitsAllocated 1) as a whole; the corpus has single-frame ones only.
  const numbers = frames.map((_, i) => i + 1);
  const res = await http(`${instanceUrl}/frames/${numbers.join(',')}`, { headers: { Accept: FRAMES } });
  assert.equal(res.status, 200, 'frames retrieve');
  const frameParts = multipartParts(res.body, res.headers.get('content-type')!);
  assert.equal(frameParts.length, frames.length, 'one part per frame');
  const label = LITTLE_ENDIAN_NATIVE.has(ts) ? EXPLICIT_VR_LITTLE_ENDIAN : ts;
  frameParts.forEach((part, i) => {
    assert.equal(part.headers['content-type'], `application/octet-stream; transfer-syntax=${label}`, `frame ${i + 1} Content-Type`);
    assert.equal(part.headers['content-location'], `${instanceUrl}/frames/${i + 1}`, `frame ${i + 1} Content-Location`);
    assert.equal(sha(part.bytes), frames[i], `frame ${i + 1} (${part.bytes.length} bytes) differs from pydicom's`);
  });
  const beyond = await http(`${instanceUrl}/frames/${frames.length + 1}`, { headers: { Accept: FRAMES } });
  assert.equal(beyond.status, 404, 'the frame after the last is 404');
}
