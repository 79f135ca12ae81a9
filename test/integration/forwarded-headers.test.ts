/**
 * Forwarded headers through real HTTP: a gateway that trusts the loopback address as its reverse
 * proxy builds URLs from Forwarded / X-Forwarded-* and takes the client address from them (the
 * environment the policy sees, and the audit trail); the default gateway, which trusts no proxy,
 * ignores them for both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

describe('forwarded headers', () => {
  let trusting: TestGateway;
  let plain: TestGateway;
  const study = newUid();
  let instancePath: string;

  before(async () => {
    trusting = await startTestGateway({ server: { trustedProxies: ['127.0.0.1', '::1'] } });
    plain = await startTestGateway();
    const instance = syntheticInstance({ studyInstanceUID: study, seed: 9 });
    for (const gw of [trusting, plain]) assert.equal((await stow(gw.dicomWebUrl, [instance])).status, 200);
    const found = await fetch(`${plain.dicomWebUrl}/instances?StudyInstanceUID=${study}`, { headers: { Accept: 'application/dicom+json' } });
    instancePath = new URL(((await found.json()) as any[])[0]['00081190'].Value[0]).pathname;
  });
  after(async () => {
    await trusting?.stop();
    await plain?.stop();
  });

  const bulkDataUri = async (gw: TestGateway, headers: Record<string, string>) => {
    const res = await fetch(`${gw.url}${instancePath}/metadata`, { headers: { Accept: 'application/dicom+json', ...headers } });
    assert.equal(res.status, 200);
    return ((await res.json()) as any[])[0]['7FE00010'].BulkDataURI as string;
  };
  const whoami = async (gw: TestGateway, headers: Record<string, string>) => ((await (await fetch(`${gw.url}/auth/whoami`, { headers })).json()) as { clientAddress: string }).clientAddress;

  it('from a trusted proxy: X-Forwarded-Proto/Host/Prefix, or Forwarded (which wins), make the URLs', async () => {
    const x = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'pacs.example.org', 'X-Forwarded-Prefix': '/gw' };
    assert.ok((await bulkDataUri(trusting, x)).startsWith(`https://pacs.example.org/gw${instancePath}/`));
    const both = { ...x, Forwarded: 'for=203.0.113.7;proto=https;host="viewer.example.org:8443"' };
    assert.ok((await bulkDataUri(trusting, both)).startsWith(`https://viewer.example.org:8443${instancePath}/`));
  });

  it('from anyone else: ignored, the Host header decides', async () => {
    const forged = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', Forwarded: 'host=evil.example;proto=https' };
    assert.ok((await bulkDataUri(plain, forged)).startsWith(`${plain.url}${instancePath}/`));
  });

  it('the client address of the policy environment and of the audit trail follows the same rule', async () => {
    assert.equal(await whoami(trusting, { 'X-Forwarded-For': '198.51.100.23, 127.0.0.1', 'X-Request-Id': 'fwd-trusted' }), '198.51.100.23');
    assert.equal(await whoami(trusting, { Forwarded: 'for="[2001:db8::7]:4711"', 'X-Request-Id': 'fwd-rfc7239' }), '2001:db8::7');
    assert.equal(await whoami(plain, { 'X-Forwarded-For': '198.51.100.23', Forwarded: 'for=198.51.100.23', 'X-Request-Id': 'fwd-forged' }), '127.0.0.1');
    const client = async (gw: TestGateway, id: string) => (await readTrail(gw.dataDir)).events.find((e) => e.requestId === id)?.actor.clientAddress;
    assert.equal(await client(trusting, 'fwd-trusted'), '198.51.100.23');
    assert.equal(await client(trusting, 'fwd-rfc7239'), '2001:db8::7');
    assert.equal(await client(plain, 'fwd-forged'), '127.0.0.1');
  });
});
