/**
 * The floor of a proxy's cost: a bare Node HTTP server that passes each GET to the upstream through
 * an undici pool and streams the answer back (status, Content-Type, Content-Length, body), with no
 * authentication, policy, audit, logging or metrics. `bench/profile-proxy.ts` measures its CPU per
 * request beside the gateway's. Run as `node --import tsx bench/lib/bare-proxy.ts <upstream DICOMweb root>`;
 * prints `{"msg":"listening","url":...}` like the gateway.
 */
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const upstream = new URL(process.argv[2]!);
const prefix = upstream.pathname.replace(/\/+$/, '');
const pool = new Pool(upstream.origin, { connections: 16, keepAliveTimeoutThreshold: 500 });

const server = createServer((req, res) => {
  const path = prefix + (req.url ?? '/').replace(/^\/dicom-web/, '');
  pool
    .request({ path, method: 'GET', headers: { accept: req.headers.accept ?? '*/*' } })
    .then(async (answer) => {
      const headers: Record<string, string> = { 'content-type': String(answer.headers['content-type']) };
      if (answer.headers['content-length'] !== undefined) headers['content-length'] = String(answer.headers['content-length']);
      res.writeHead(answer.statusCode, headers);
      await pipeline(answer.body, res);
    })
    .catch(() => res.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${address.port}` }));
});
process.on('SIGTERM', () => process.exit(0));
