/**
 * Deflated data sets (Deflated Explicit VR Little Endian, 1.2.840.10008.1.2.1.99) through STOW-RS
 * with a small configured decompression limit: an instance that inflates beyond it (a few KB that
 * inflate to 32 MiB) fails on its own, with FailureReason 0xA700 and a reason that names the limit,
 * while the other instance of the same request, inflating within it, is stored.
 */
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { rawRequest } from '../support/raw-http.js';

const MiB = 1024 * 1024;
const DEFLATED = '1.2.840.10008.1.2.1.99';
const OUT_OF_RESOURCES = 0xa700;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);

/** `instance` (Explicit VR Little Endian, as the generator writes it) as Deflated Explicit VR Little Endian. */
function deflated(instance: Buffer): Buffer {
  const metaEnd = 144 + instance.readUInt32LE(140);
  const elements: Buffer[] = [];
  for (let at = 144; at < metaEnd;) {
    const vr = instance.toString('latin1', at + 4, at + 6);
    const long = LONG_VRS.has(vr);
    const length = long ? instance.readUInt32LE(at + 8) : instance.readUInt16LE(at + 6);
    const end = at + (long ? 12 : 8) + length;
    if (instance.readUInt16LE(at) === 0x0002 && instance.readUInt16LE(at + 2) === 0x0010) {
      const header = Buffer.alloc(8);
      header.writeUInt16LE(0x0002, 0);
      header.writeUInt16LE(0x0010, 2);
      header.write('UI', 4, 'latin1');
      header.writeUInt16LE(DEFLATED.length, 6);
      elements.push(header, Buffer.from(DEFLATED, 'latin1'));
    } else {
      elements.push(instance.subarray(at, end));
    }
    at = end;
  }
  const meta = Buffer.concat(elements);
  const groupLength = Buffer.from(instance.subarray(132, 144));
  groupLength.writeUInt32LE(meta.length, 8);
  return Buffer.concat([instance.subarray(0, 132), groupLength, meta, deflateRawSync(instance.subarray(metaEnd), { level: 9 })]);
}

describe('deflated data sets in STOW-RS', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ limits: { maxInflatedBytes: 4 * MiB } });
  });
  after(async () => {
    await gw?.stop();
  });

  it('one that inflates beyond limits.maxInflatedBytes fails alone with 0xA700; one within it is stored', async () => {
    const bomb = deflated(syntheticInstance({ studyInstanceUID: newUid(), rows: 2048, columns: 2048, numberOfFrames: 4, pixels: new Uint8Array(2048 * 2048 * 4 * 2), seed: 1 }));
    const fine = deflated(syntheticInstance({ studyInstanceUID: newUid(), rows: 256, columns: 256, seed: 2 }));
    assert.ok(bomb.length < 64 * 1024, `the bomb is ${bomb.length} bytes`);
    const { body, contentType } = stowBody([bomb, fine]);
    const res = await rawRequest(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length, Accept: 'application/dicom+json' }, body });
    assert.equal(res.status, 202, res.body.toString());
    const json = JSON.parse(res.body.toString());
    assert.deepEqual(
      json['00081198'].Value.map((item: any) => item['00081197'].Value[0]),
      [OUT_OF_RESOURCES],
    );
    assert.equal(json['00081199'].Value.length, 1, 'the other instance is stored');
    assert.equal(res.headers.warning, `299 aegis "the deflated data set inflates to more than ${4 * MiB} bytes (limits.maxInflatedBytes)"`);
  });
});
