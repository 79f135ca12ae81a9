/**
 * Decompression bombs: an instance whose compressed frame declares in its own codestream a far
 * larger image than the data set's Rows and Columns (a few kilobytes claiming 8192 x 8192 pixels).
 * The decoders size their output from the codestream, so without a check the gateway decodes
 * hundreds of megabytes synchronously per request and then reads them with the wrong geometry.
 * Transcoding (instance, frames, pixel data bulk data) and rendering (rendered, thumbnail) refuse
 * such a frame with a 406 naming both sizes, before any decoder runs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { datasetView, parseInstance } from '../../gateway/dicom/parse.js';
import { PYDICOM_DATA } from '../support/corpus.js';
import { get, stow } from '../support/dicomweb.js';
import { OPEN_ACCESS, startTestGateway, type TestGateway } from '../support/in-process.js';

const CLAIMED = 8192;
/** Corpus files of JPEG (SOF0), JPEG-LS (SOF55) and JPEG 2000 (SIZ), each with a frame header rewritten to claim CLAIMED x CLAIMED. */
const FILES = ['SC_rgb_jpeg_gdcm.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'MR_small_jp2klossless.dcm'];

/** `file` with the size in its first frame's header made `claimed` x `claimed` (null: unaltered), and its SOP Instance UID made unique by its last digit. */
function bomb(file: string, digit: number, claimed: number | null = CLAIMED): { bytes: Buffer; study: string; series: string; sop: string } {
  const bytes = Buffer.from(readFileSync(`${PYDICOM_DATA}/test_files/${file}`));
  const parsed = parseInstance(bytes);
  assert.ok(parsed.pixelData?.encapsulated, file);
  const view = datasetView(bytes, parsed);
  assert.equal(view.buffer, bytes.buffer, 'not deflated: the view is the file');
  const [offset, length] = parsed.pixelData.frames[0][0];
  const frame = Buffer.from(view.buffer, view.byteOffset + offset, length);
  const sof = frame.findIndex((b, i) => b === 0xff && [0xc0, 0xc1, 0xc3, 0xf7].includes(frame[i + 1]));
  const siz = frame.findIndex((b, i) => b === 0xff && frame[i + 1] === 0x51);
  if (claimed === null) {
    // unaltered
  } else if (sof >= 0 && (siz < 0 || sof < siz)) {
    frame.writeUInt16BE(claimed, sof + 5);
    frame.writeUInt16BE(claimed, sof + 7);
  } else {
    assert.ok(siz >= 0, `${file}: a SIZ segment`);
    frame.writeUInt32BE(claimed, siz + 6);
    frame.writeUInt32BE(claimed, siz + 10);
    frame.writeUInt32BE(0, siz + 14);
    frame.writeUInt32BE(0, siz + 18);
  }
  const sop = parsed.sopInstanceUID;
  const unique = `${sop.slice(0, -1)}${digit === Number(sop.at(-1)) ? (digit + 1) % 10 : digit}`;
  let text = bytes.toString('latin1');
  text = text.split(sop).join(unique);
  return { bytes: Buffer.from(text, 'latin1'), study: parsed.studyInstanceUID, series: parsed.seriesInstanceUID, sop: unique };
}

describe('decompression bombs: a frame whose codestream claims a larger image than the data set', () => {
  let gw: TestGateway;
  const bombs = FILES.map((file, i) => ({ file, ...bomb(file, i + 1) }));

  before(async () => {
    gw = await startTestGateway(OPEN_ACCESS);
    for (const { file, bytes } of bombs) {
      const stored = await stow(gw.dicomWebUrl, [bytes]);
      assert.equal(stored.status, 200, `${file}: ${JSON.stringify(stored.json)}`);
    }
  });
  after(async () => {
    await gw?.stop();
  });

  it('refuses to transcode or render it, with a 406 naming both sizes', async () => {
    const answers: string[] = [];
    for (const { file, study, series, sop } of bombs) {
      const instance = `${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`;
      const asks: Array<[string, string]> = [
        [instance, 'multipart/related; type="application/dicom"'],
        [`${instance}/frames/1`, 'multipart/related; type="application/octet-stream"'],
        [`${instance}/rendered`, 'image/png'],
        [`${instance}/thumbnail`, 'image/jpeg'],
      ];
      for (const [url, accept] of asks) {
        const res = await get(url, accept);
        const message = res.status === 406 ? (JSON.parse(res.body.toString()) as { error: { message: string } }).error.message : '';
        answers.push(`${file} ${url.slice(instance.length) || '(instance)'}: ${res.status} ${/declares 8192 x 8192 pixels/.test(message) ? 'named' : message.slice(0, 120)}`);
      }
    }
    assert.deepEqual(
      answers,
      bombs.flatMap(({ file }) => ['(instance)', '/frames/1', '/rendered', '/thumbnail'].map((path) => `${file} ${path}: 406 named`)),
    );
  });

  it('still transcodes and renders the same files unaltered', async () => {
    for (const [i, file] of FILES.entries()) {
      const { bytes, study, series, sop } = bomb(file, i + 5, null);
      assert.equal((await stow(gw.dicomWebUrl, [bytes])).status, 200, file);
      const instance = `${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`;
      for (const [url, accept] of [
        [instance, 'multipart/related; type="application/dicom"'],
        [`${instance}/rendered`, 'image/png'],
      ]) {
        const res = await get(url!, accept);
        assert.equal(res.status, 200, `${file} ${url}: ${res.body.toString().slice(0, 300)}`);
      }
    }
  });
});
