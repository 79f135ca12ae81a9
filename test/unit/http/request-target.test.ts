import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { normalizeRequestTarget, recordedTarget, refuseMalformedTarget } from '../../../gateway/http/request-target.js';

function normalized(method: string, url: string) {
  const req = { method, url, originalUrl: url, headers: { host: 'gw:8080' } } as unknown as IncomingMessage & Request;
  normalizeRequestTarget(req);
  let refusal: unknown;
  refuseMalformedTarget({ ...req, originalUrl: req.url } as Request, {} as never, (error?: unknown) => (refusal = error));
  return { url: req.url, host: req.headers.host, recorded: recordedTarget({ ...req, originalUrl: req.url } as Request), refusal: (refusal as Error | undefined)?.message };
}

describe('the request target', () => {
  it('leaves the origin-form as it is, double slashes and bad escapes included', () => {
    for (const url of ['/', '//', '//x:99999/dicom-web/studies', '//a%/', '/dicom-web/studies?%zz=1']) {
      assert.deepEqual(normalized('GET', url), { url, host: 'gw:8080', recorded: url, refusal: undefined });
    }
  });

  it('turns the absolute-form into the origin-form, its authority replacing Host (RFC 9112 §3.2.2)', () => {
    assert.deepEqual(normalized('GET', 'http://Other.Example:81/dicom-web/studies?x=1'), { url: '/dicom-web/studies?x=1', host: 'other.example:81', recorded: '/dicom-web/studies?x=1', refusal: undefined });
    assert.deepEqual(normalized('GET', 'https://[::1]'), { url: '/', host: '[::1]', recorded: '/', refusal: undefined });
    assert.equal(normalized('GET', 'HTTP://h?q=1').url, '/?q=1');
  });

  it('accepts * for OPTIONS only', () => {
    assert.equal(normalized('OPTIONS', '*').refusal, undefined);
    assert.deepEqual(normalized('GET', '*'), { url: '/', host: 'gw:8080', recorded: '*', refusal: 'the asterisk-form request target is only for OPTIONS' });
  });

  it('refuses other schemes, bad authorities and user information, which it never records', () => {
    assert.match(normalized('GET', 'ftp://h/x').refusal!, /scheme must be http or https/);
    assert.match(normalized('GET', 'http://[::1/x').refusal!, /authority is not a host and port/);
    assert.match(normalized('GET', 'http://h:99999/x').refusal!, /authority is not a host and port/);
    assert.match(normalized('GET', 'http:///x').refusal!, /authority is not a host and port/);
    const withUser = normalized('GET', 'http://user:secret@h/x');
    assert.deepEqual(withUser, { url: '/', host: 'gw:8080', recorded: 'http://h/x', refusal: 'user information in the request target is not accepted' });
  });
});
