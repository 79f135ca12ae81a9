/**
 * The conformance suite's HTTP client against two local servers: the operator's headers
 * (credentials) go to the server under test and never to another origin a response points at
 * (a RetrieveURL or BulkDataURI elsewhere); an anonymous request carries none; a request without
 * Accept carries none; a server that does not answer fails the request at the deadline.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DicomWebClient } from '../../../conformance/client.js';

/** A server that records the headers of each request and answers 204, or never answers when `silent`. */
async function recorder(silent = false): Promise<{ server: Server; url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (!silent) res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('conformance client', () => {
  let target: Awaited<ReturnType<typeof recorder>>;
  let elsewhere: Awaited<ReturnType<typeof recorder>>;
  let silent: Awaited<ReturnType<typeof recorder>>;
  before(async () => {
    [target, elsewhere, silent] = await Promise.all([recorder(), recorder(), recorder(true)]);
  });
  after(() => {
    for (const r of [target, elsewhere, silent]) r.server.closeAllConnections();
    for (const r of [target, elsewhere, silent]) r.server.close();
  });

  it('sends the credentials to the server under test only', async () => {
    const client = new DicomWebClient({ baseUrl: `${target.url}/dicom-web`, headers: { Authorization: 'Bearer secret' }, timeoutMs: 5000 });
    assert.equal((await client.get('/studies', 'application/dicom+json')).status, 204);
    assert.equal((await client.get(`${elsewhere.url}/dicom-web/studies/1.2.3`, 'application/dicom+json')).status, 204);
    assert.equal((await client.raw('GET', `${elsewhere.url}/bulk/1`, {})).status, 204);
    assert.equal((await client.get('/studies', undefined, { anonymous: true })).status, 204);
    assert.equal((await client.raw('GET', '/studies', {})).status, 204);
    assert.deepEqual(
      target.seen.map((h) => [h.authorization ?? null, h.accept ?? null]),
      [
        ['Bearer secret', 'application/dicom+json'],
        [null, '*/*'],
        ['Bearer secret', null],
      ],
    );
    assert.deepEqual(
      elsewhere.seen.map((h) => h.authorization ?? null),
      [null, null],
      'another origin never gets the credentials',
    );
  });

  it('fails a request the server does not answer at the deadline', async () => {
    const client = new DicomWebClient({ baseUrl: silent.url, headers: {}, timeoutMs: 300 });
    await assert.rejects(client.get('/studies'), (error: Error) => error.name === 'TimeoutError');
    await assert.rejects(client.raw('GET', '/studies', {}), /no answer within 300 ms/);
  });
});
