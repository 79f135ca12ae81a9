/**
 * Connection reuse to the upstream PACS: Orthanc answers `Keep-Alive: timeout=1`, and the proxy's
 * connections must be reused across requests, not opened and closed for every one (each new one costs a TCP
 * connection and, on Orthanc, a thread hand-off).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { Upstream } from '../../../gateway/config-upstream.js';
import { UpstreamClient } from '../../../gateway/services/proxy/upstream-client.js';

let connections = 0;
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/dicom+json', 'keep-alive': 'timeout=1' });
  res.end('[]');
});
server.keepAliveTimeout = 1000; // Orthanc's (civetweb) default: one second
server.on('connection', () => connections++);
let client: UpstreamClient;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new UpstreamClient(Upstream.parse({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web` }), undefined);
});
after(async () => {
  await client.close();
  server.close();
});

it('reuses its connections for requests in sequence to an upstream that keeps connections one second', async () => {
  for (let i = 0; i < 10; i++) assert.deepEqual(await client.json('/studies'), []);
  // undici's pool may open a second connection while the first one's answer is being finished; never one per request.
  assert.ok(connections <= 2, `${connections} connections for 10 requests`);
});
