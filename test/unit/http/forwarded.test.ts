import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { forwardedView, parseForwarded } from '../../../gateway/http/forwarded.js';

function request(peer: string, headers: Record<string, string>): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

const PROXIES = ['10.0.0.0/8', '::1', '127.0.0.1'];

describe('the Forwarded header (RFC 7239)', () => {
  it('parses elements, pairs, tokens and quoted values, parameter names in any case', () => {
    assert.deepEqual(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711";HOST="gw.example.org:8443"'), [
      { for: '192.0.2.60', proto: 'http', by: '203.0.113.43' },
      { for: '[2001:db8:cafe::17]:4711', host: 'gw.example.org:8443' },
    ]);
    assert.deepEqual(parseForwarded('for="\\"quoted\\\\pair\\""'), [{ for: '"quoted\\pair"' }]);
    assert.deepEqual(parseForwarded(' for=unknown ,for=_hidden ; proto=https'), [{ for: 'unknown' }, { for: '_hidden', proto: 'https' }]);
  });

  it('refuses what is not the RFC 7239 syntax', () => {
    for (const bad of ['for', 'for=', 'for="unterminated', 'for=a b', 'for=1;for=2', '=x', 'for=1,,', 'fo r=1']) {
      assert.equal(parseForwarded(bad), undefined, bad);
    }
  });
});

describe('forwarded headers and the proxies trusted to send them', () => {
  it('are ignored entirely from a peer that is not a trusted proxy (the default trusts none)', () => {
    const headers = { host: 'gw:8080', forwarded: 'for=203.0.113.9;host=evil.example;proto=https', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/evil' };
    assert.deepEqual(forwardedView(request('198.51.100.7', headers), PROXIES), { clientAddress: '198.51.100.7' });
    assert.deepEqual(forwardedView(request('127.0.0.1', headers), []), { clientAddress: '127.0.0.1' });
  });

  it('from a trusted proxy: X-Forwarded-For walked from the nearest hop past trusted proxies; host, proto and prefix of the nearest', () => {
    const view = forwardedView(request('10.1.1.1', { 'x-forwarded-for': '203.0.113.5, 198.51.100.7, 10.2.2.2', 'x-forwarded-host': 'first.example, gw.example.org', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/pacs/' }), PROXIES);
    assert.deepEqual(view, { clientAddress: '198.51.100.7', host: 'gw.example.org', proto: 'https', prefix: '/pacs/' });
  });

  it('from a trusted proxy: Forwarded wins over X-Forwarded-*, the element of the nearest proxy gives host and proto', () => {
    const headers = { forwarded: 'for=203.0.113.5;host=outer.example, for="[2001:db8::17]:4711";proto=https;host="gw.example.org"', 'x-forwarded-for': '192.0.2.99', 'x-forwarded-host': 'other.example' };
    assert.deepEqual(forwardedView(request('::1', headers), PROXIES), { clientAddress: '2001:db8::17', host: 'gw.example.org', proto: 'https' });
    assert.deepEqual(forwardedView(request('::ffff:10.0.0.3', { forwarded: 'for=10.0.0.9, for=10.0.0.8' }), PROXIES), { clientAddress: '10.0.0.9' }, 'every hop trusted: the farthest');
  });

  it('an obfuscated or unknown client, or a malformed header, leaves the client as the last trusted proxy', () => {
    assert.equal(forwardedView(request('10.0.0.1', { forwarded: 'for=_hidden' }), PROXIES).clientAddress, '10.0.0.1');
    assert.equal(forwardedView(request('10.0.0.1', { forwarded: 'for=unknown, for=10.0.0.2' }), PROXIES).clientAddress, '10.0.0.2');
    assert.deepEqual(forwardedView(request('10.0.0.1', { forwarded: 'for="[::1', 'x-forwarded-for': '203.0.113.5' }), PROXIES), { clientAddress: '10.0.0.1' });
    assert.equal(forwardedView(request('10.0.0.1', { 'x-forwarded-for': 'not an address, 10.0.0.2' }), PROXIES).clientAddress, '10.0.0.2');
  });
});
