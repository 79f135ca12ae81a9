/**
 * Text from a received file reaches response headers only as safe header text: a STOW-RS of real
 * instances whose UIDs carry control characters, bytes beyond ASCII, quotes and a CRLF, into a study
 * they do not belong to. The reasons of the Warning header hold that text; the request must get its
 * 409 with one Warning per instance, each printable ASCII, a valid quoted-string (RFC 9110 §5.6.4)
 * that decodes back to the reason, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { rawRequest } from '../support/raw-http.js';

const DOES_NOT_MATCH = 0xa900;

/** The text of a `299 aegis "..."` warning, its quoted-pairs and percent-escapes decoded. */
function warnText(value: string): string {
  const match = /^299 aegis "((?:[^"\\]|\\.)*)"$/.exec(value);
  assert.ok(match, `a Warning of code 299 with a quoted-string: ${value}`);
  return decodeURIComponent(match[1].replace(/\\(.)/g, '$1'));
}

describe('text from files in response headers', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  it('a STOW-RS Warning carries control, non-ASCII and quote characters of the file as safe header text', async () => {
    const studies = ['1.2.840.99.\x01\x1b[31m\xe9\xff', '1.2.840.99."quoted"\\back\\slash', '1.2.840.99.\r\nX-Injected: 1', `1.2.840.99.${'9'.repeat(3000)}`];
    const instances = studies.map((studyInstanceUID, i) => syntheticInstance({ studyInstanceUID, seriesInstanceUID: newUid(), sopInstanceUID: newUid(), seed: 40 + i }));
    const target = newUid();
    const { body, contentType } = stowBody(instances);
    const res = await rawRequest(`${gw.dicomWebUrl}/studies/${target}`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, 'Content-Length': body.length, Accept: 'application/dicom+json' },
      body,
    });
    assert.equal(res.status, 409, res.body.toString());
    const json = JSON.parse(res.body.toString());
    assert.deepEqual(
      json['00081198'].Value.map((item: any) => item['00081197'].Value[0]),
      studies.map(() => DOES_NOT_MATCH),
    );
    assert.equal(res.headers['x-injected'], undefined, 'no header smuggled in');
    const warnings = String(res.headers.warning).split(/, (?=299 )/);
    assert.equal(warnings.length, studies.length);
    for (const [i, warning] of warnings.entries()) {
      assert.match(warning, /^[\x20-\x7e]+$/, 'printable ASCII only');
      assert.ok(warning.length <= 600, `bounded (${warning.length} characters)`);
      const text = warnText(warning);
      // A backslash separates the values of a DICOM attribute: the UID is the first value.
      if (i < 3) assert.equal(text, `Study Instance UID ${studies[i].split('\\')[0]} does not match the study ${target} of the request URL`);
      else assert.ok(text.startsWith(`Study Instance UID ${studies[i].slice(0, 100)}`) && text.endsWith('...'), 'a long reason is cut, and says so');
    }
  });
});
