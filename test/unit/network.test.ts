/**
 * Client networks: IPv4 and IPv6 ranges and single addresses, IPv4 clients seen as IPv4-mapped
 * IPv6 addresses by dual-stack sockets, and addresses that are not addresses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inNetworks, parseClientAddress, parseNetworkRange } from '../../gateway/network.js';

const inside = (client: string, ...ranges: string[]) => inNetworks(parseClientAddress(client), ranges.map(parseNetworkRange));

describe('client networks', () => {
  it('matches IPv4 clients against IPv4 ranges and single addresses', () => {
    assert.equal(inside('10.1.2.3', '10.0.0.0/8'), true);
    assert.equal(inside('11.1.2.3', '10.0.0.0/8'), false);
    assert.equal(inside('192.168.1.20', '10.0.0.0/8', '192.168.1.0/24'), true, 'any of the ranges');
    assert.equal(inside('127.0.0.1', '127.0.0.1'), true, 'a single address is a /32');
    assert.equal(inside('127.0.0.2', '127.0.0.1'), false);
  });

  it('matches IPv6 clients against IPv6 ranges, never against IPv4 ones', () => {
    assert.equal(inside('::1', '::1/128'), true);
    assert.equal(inside('::1', '::1'), true, 'a single address is a /128');
    assert.equal(inside('fd12:3456::1', 'fd00::/8'), true);
    assert.equal(inside('2001:db8::1', 'fd00::/8', '10.0.0.0/8'), false);
    assert.equal(inside('fe80::1%eth0', 'fe80::/10'), true, 'a zone index does not matter');
  });

  it('treats an IPv4-mapped IPv6 client as the IPv4 client', () => {
    assert.equal(inside('::ffff:10.1.2.3', '10.0.0.0/8'), true);
    assert.equal(inside('::ffff:10.1.2.3', '11.0.0.0/8'), false);
    assert.equal(inside('::ffff:a01:203', '10.1.2.3'), true, 'hexadecimal mapped form');
  });

  it('matches IPv4 clients against IPv6 ranges holding their mapped form', () => {
    assert.equal(inside('10.1.2.3', '::ffff:10.0.0.0/104'), true);
    assert.equal(inside('11.1.2.3', '::ffff:10.0.0.0/104'), false);
    assert.equal(inside('10.1.2.3', '::/0'), true);
    assert.equal(inside('10.1.2.3', '::1/128'), false);
  });

  it('never matches a client address that is not an IP address', () => {
    assert.equal(parseClientAddress('localhost'), undefined);
    assert.equal(inside('', '0.0.0.0/0', '::/0'), false);
    assert.equal(inside('not-an-address', '0.0.0.0/0'), false);
  });

  it('refuses malformed ranges, and IPv4 forms other than dotted quads', () => {
    for (const text of ['10.0.0.0/33', '10.0.0/8', '10', '0x0a.0.0.1', '::1/129', 'fd00::/x', 'example.org', '10.0.0.0/8/8']) {
      assert.throws(() => parseNetworkRange(text), { message: `'${text}' is not an IPv4 or IPv6 address or CIDR range (like 10.0.0.0/8 or fd00::/8)` }, text);
    }
    assert.equal(parseNetworkRange('10.0.0.0/8').text, '10.0.0.0/8');
  });
});
