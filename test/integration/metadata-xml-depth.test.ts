/**
 * Metadata as `application/dicom+xml` for instances whose sequences are nested deeply (an SR
 * content tree): every instance STOW-RS stores has its metadata in XML as in JSON, not a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, multipartParts, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const XML = 'multipart/related; type="application/dicom+xml"';

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
const item = (content: Buffer) => Buffer.concat([u16(0xfffe), u16(0xe000), u32(0xffffffff), content, u16(0xfffe), u16(0xe00d), u32(0)]);

/** The items of a Content Sequence nested `depth` more times (undefined lengths), a Text Value at the bottom. */
function nestedItems(depth: number): Buffer {
  let content = Buffer.concat([u16(0x0040), u16(0xa160), Buffer.from('UT'), u16(0), u32(4), Buffer.from('leaf')]);
  for (let d = 0; d < depth; d++) content = Buffer.concat([u16(0x0040), u16(0xa730), Buffer.from('SQ'), u16(0), u32(0xffffffff), item(content), u16(0xfffe), u16(0xe0dd), u32(0)]);
  return item(content);
}

/** Whether the start and end tags of `xml` nest properly (no parser: they limit depth themselves). */
function balanced(xml: string): boolean {
  const open: string[] = [];
  for (const [, end, name, empty] of xml.replace(/^<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    if (empty === '/') continue;
    if (end === '') open.push(name);
    else if (open.pop() !== name) return false;
  }
  return open.length === 0;
}

describe('metadata as application/dicom+xml of deeply nested sequences', () => {
  let gw: TestGateway;
  const depths = [60, 1000];
  const studies = depths.map(() => newUid());

  before(async () => {
    gw = await startTestGateway();
    for (const [i, depth] of depths.entries()) {
      const instance = syntheticInstance({ studyInstanceUID: studies[i], extra: [{ tag: '0040A730', vr: 'SQ', value: nestedItems(depth) }] });
      assert.equal((await stow(gw.dicomWebUrl, [instance])).status, 200, `depth ${depth} stored`);
    }
  });
  after(async () => {
    await gw.stop();
  });

  it('answers 200 with every level of the sequence, as the JSON does', async () => {
    for (const [i, depth] of depths.entries()) {
      const url = `${gw.dicomWebUrl}/studies/${studies[i]}/metadata`;
      assert.equal((await get(url, 'application/dicom+json')).status, 200);
      const res = await get(url, XML);
      assert.equal(res.status, 200, `depth ${depth}: ${res.body.toString().slice(0, 200)}`);
      const parts = multipartParts(res.body, res.headers.get('content-type')!);
      assert.equal(parts.length, 1);
      const xml = parts[0].bytes.toString('utf8');
      assert.equal(xml.match(/<Item number="1">/g)?.length, depth + 1, `depth ${depth}: every item`);
      assert.match(xml, /<DicomAttribute tag="0040A160" vr="UT" keyword="TextValue"><Value number="1">leaf<\/Value><\/DicomAttribute>/);
      assert.ok(balanced(xml), `depth ${depth}: well nested`);
    }
  });
});
