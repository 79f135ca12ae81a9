/** The upstream's URLs in DICOM JSON rewritten to the gateway's, whatever the chunk boundaries. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { it } from 'node:test';
import { rewriteUrls } from '../../../gateway/services/proxy/rewrite-urls.js';

const FROM = 'http://127.0.0.1:8042/dicom-web';
const TO = 'https://gw.example.org/dicom-web';

it('rewrites every URL of the upstream root, cut at any byte, and leaves other text alone', async () => {
  const json = `[{"00081190":{"vr":"UR","Value":["${FROM}/studies/1.2"]},"7FE00010":{"vr":"OW","BulkDataURI":"${FROM}/studies/1.2/series/3/instances/4/bulk/7fe00010"},"00081030":{"vr":"LO","Value":["é ${FROM.slice(0, 10)} not a URL value start"]}}]`;
  const expected = json.replaceAll(`"${FROM}`, `"${TO}`);
  assert.equal(expected.split(TO).length - 1, 2);
  const bytes = Buffer.from(json, 'utf8');
  for (let cut = 1; cut < bytes.length; cut += 1) {
    const out = await text(Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]).pipe(rewriteUrls(FROM, TO)));
    assert.equal(out, expected, `cut at ${cut}`);
  }
  const oneByteChunks = await text(Readable.from([...bytes].map((b) => Buffer.from([b]))).pipe(rewriteUrls(FROM, TO)));
  assert.equal(oneByteChunks, expected);
});
