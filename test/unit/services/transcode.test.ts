/**
 * The bounds of transcoding (services/transcode.ts): an instance whose decoded pixel data would
 * exceed the size limit is refused before anything is decoded, decoding that overruns the time
 * limit stops, a target Aegis does not produce is refused naming what it offers, and a decoded
 * instance stays within the limits otherwise. All refusals are NOT_ACCEPTABLE (406), never 500.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { isGatewayError } from '../../../gateway/errors.js';
import { transcodeInstance } from '../../../gateway/services/transcode.js';
import { PYDICOM_DATA } from '../../support/corpus.js';

const RLE_TWO_FRAMES = readFileSync(join(PYDICOM_DATA, 'test_files', 'SC_rgb_rle_16bit_2frame.dcm'));
const EXPLICIT = '1.2.840.10008.1.2.1';
const ROOMY = { maxDecodedBytes: 1 << 30, maxSeconds: 60 };

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isGatewayError(error), `a GatewayError, not ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('the transcoding was not refused');
}

describe('transcodeInstance limits', () => {
  it('decodes the two RLE frames (2 x 100 x 100 x 3 x 16 bits) within roomy limits', async () => {
    const out = parseInstance(await transcodeInstance(RLE_TWO_FRAMES, EXPLICIT, ROOMY));
    assert.equal(out.transferSyntaxUID, EXPLICIT);
    assert.deepEqual(out.pixelData && !out.pixelData.encapsulated ? [out.pixelData.frameLength, out.pixelData.numberOfFrames] : undefined, [60_000, 2]);
  });

  it('refuses, before decoding, pixel data larger than maxDecodedBytes', async () => {
    const { code, message } = await refusal(transcodeInstance(RLE_TWO_FRAMES, EXPLICIT, { maxDecodedBytes: 119_999, maxSeconds: 60 }));
    assert.equal(code, 'NOT_ACCEPTABLE');
    assert.equal(message, 'the decoded pixel data would take 0.1 MiB, more than the 0.1 MiB Aegis decodes at once (limits.maxTranscodeBytes); ask for fewer frames, or for transfer-syntax=* to get the stored bytes');
    await transcodeInstance(RLE_TWO_FRAMES, EXPLICIT, { maxDecodedBytes: 120_000, maxSeconds: 60 });
  });

  it('stops once decoding has run longer than maxSeconds', async () => {
    const { code, message } = await refusal(transcodeInstance(RLE_TWO_FRAMES, EXPLICIT, { maxDecodedBytes: 1 << 30, maxSeconds: -1 }));
    assert.equal(code, 'NOT_ACCEPTABLE');
    assert.equal(message, 'decoding took longer than -1 s (limits.transcodeSeconds) after 1 of 2 frames; ask for fewer frames, or for transfer-syntax=* to get the stored bytes');
  });

  it('refuses a target it does not produce, naming what it offers', async () => {
    const { code, message } = await refusal(transcodeInstance(RLE_TWO_FRAMES, '1.2.840.10008.1.2.4.50', ROOMY));
    assert.equal(code, 'NOT_ACCEPTABLE');
    assert.equal(message, 'cannot transcode from 1.2.840.10008.1.2.5 to 1.2.840.10008.1.2.4.50: offered as stored (transfer-syntax=* or 1.2.840.10008.1.2.5) and transcoded to 1.2.840.10008.1.2.1, 1.2.840.10008.1.2');
  });
});
