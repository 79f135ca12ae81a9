import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { headerValue, quotedString, warningValue } from '../../../gateway/http/header-text.js';

/** The text inside a quoted-string made by quotedString, decoded. */
function unquote(value: string): string {
  const match = /^"((?:[^"\\]|\\.)*)"$/.exec(value);
  assert.ok(match, `a quoted-string: ${value}`);
  return decodeURIComponent(match[1].replace(/\\(.)/g, '$1'));
}

describe('header text', () => {
  it('quotes free text: quoted-pairs for " and \\, percent-encoding for %, controls and non-ASCII', () => {
    assert.equal(quotedString('plain text'), '"plain text"');
    assert.equal(quotedString('say "hi" \\ 100%'), '"say \\"hi\\" \\\\ 100%25"');
    assert.equal(quotedString('a\x00b\r\nc\x7fé你😀'), '"a%00b%0D%0Ac%7F%C3%A9%E4%BD%A0%F0%9F%98%80"');
    assert.equal(quotedString('lone \ud800 surrogate'), '"lone %EF%BF%BD surrogate"');
    assert.equal(warningValue('the "x"'), '299 aegis "the \\"x\\""');
  });

  it("keeps a URI's own percent-escapes and encodes what a header cannot carry", () => {
    assert.equal(headerValue('http://gw/dicom-web/studies/1.2%2F3'), 'http://gw/dicom-web/studies/1.2%2F3');
    assert.equal(headerValue('http://gw/studies/1.2\r\nX-Evil: 1'), 'http://gw/studies/1.2%0D%0AX-Evil: 1');
    assert.equal(headerValue('application/dicom; transfer-syntax=1.2.\x01'), 'application/dicom; transfer-syntax=1.2.%01');
  });

  it('bounds the length, never cutting an escape or a quoted-pair, and says it cut', () => {
    const long = quotedString('é'.repeat(1000));
    assert.ok(long.length <= 514, String(long.length));
    assert.match(long, /^"(%C3%A9)+\.\.\."$/);
    const pairs = quotedString('"'.repeat(1000));
    assert.match(pairs, /^"(\\")+\.\.\."$/);
    assert.equal(headerValue('x'.repeat(5000)).length, 2048);
    assert.ok(headerValue('x'.repeat(5000)).endsWith('...'));
  });

  it('is always a valid header value of visible ASCII that decodes back to the text when not cut', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        for (const value of [quotedString(text), warningValue(text), headerValue(text)]) {
          assert.doesNotThrow(() => validateHeaderValue('x', value));
          assert.match(value, /^[\x20-\x7e]*$/);
        }
        const quoted = quotedString(text);
        if (!quoted.endsWith('..."')) assert.equal(unquote(quoted), text.replace(/[\ud800-\udfff]/gu, '\ufffd'));
      }),
      { numRuns: 2000 },
    );
  });
});
