/**
 * The rendered route and a client gone before the route ran: a connection closed while its request
 * was still being authenticated has said 'close' before the route could listen for it, and its
 * render must take no rendering place nor read the instance for nobody.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type { FragmentStore } from '../../../../adapters/fragment-store.js';
import { parsePolicy } from '../../../../gateway/access/policy/policy.js';
import { Catalog } from '../../../../gateway/catalog/catalog.js';
import type { AppDeps } from '../../../../gateway/http/context.js';
import { sendRendered } from '../../../../gateway/http/routes/rendered.js';
import { createLogger } from '../../../../gateway/logger.js';
import type { RequestAccess } from '../../../../gateway/services/authorization.js';
import { Limiter } from '../../../../gateway/services/limiter.js';
import type { RenderDeps } from '../../../../gateway/services/render.js';
import { catalogInstance, text } from '../../../support/catalog-instance.js';
import { temporaryCatalog } from '../../../support/audit.js';

/** An administrator's access under a policy that lets the admin role read. */
function adminAccess(): RequestAccess {
  const policy = parsePolicy('version: 1\ntimeZone: UTC\nrules:\n  - id: admins\n    subjects: { role: admin }\n    actions: [read, search]\n', 'test policy');
  const subject = { name: 'root', role: 'admin', attributes: {}, method: 'password' as const };
  const environment = { time: new Date(), clientAddress: '127.0.0.1', purpose: 'TREAT' as const };
  return { subject, environment, ability: policy.abilityFor(subject, environment), decisions: [] };
}

describe('the rendered route', () => {
  let temporary: Awaited<ReturnType<typeof temporaryCatalog>>;
  let catalog: Catalog;
  before(async () => {
    temporary = await temporaryCatalog('aegis-rendered-route-');
    catalog = temporary.catalog;
    const metadata = { '00080018': text('UI', '4.1.1.1'), '0020000D': text('UI', '4.1'), '0020000E': text('UI', '4.1.1'), '00280010': { vr: 'US', Value: [8] }, '00280011': { vr: 'US', Value: [8] }, '7FE00010': { vr: 'OW' } };
    await catalog.addInstance({ ...catalogInstance('4.1', '4.1.1', '4.1.1.1', metadata), manifest: null });
  });
  after(async () => {
    await temporary.remove();
  });

  it('renders nothing for a client whose connection closed while its request was authenticated', async () => {
    let reads = 0;
    const store = { name: 'local', get: async () => (reads++, new Uint8Array(0)) } as unknown as FragmentStore;
    const deps = { logger: createLogger('silent'), catalog, stores: new Map([['local', store]]), keyring: {}, renders: new Limiter(2, { maxWaiting: 0 }) } as unknown as AppDeps & RenderDeps;
    const handled: Array<Promise<void>> = [];
    const app = express();
    app.get('/studies/:study/series/:series/instances/:instance/rendered', (req, res) => {
      // The authentication of the request takes until its client has gone (a password checked on the thread pool).
      const run = async () => {
        if (!req.socket.destroyed) await new Promise((resolve) => req.socket.on('close', resolve));
        req.access = adminAccess();
        await sendRendered(deps, req, res, false);
      };
      handled.push(run().catch(() => undefined)); // what a render for nobody ends in is not the question
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = createConnection({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write('GET /studies/4.1/series/4.1.1/instances/4.1.1.1/rendered HTTP/1.1\r\nHost: aegis\r\nAccept: image/png\r\n\r\n');
      for (let i = 0; i < 200 && handled.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(handled.length, 1, 'the request reached the route');
      socket.resetAndDestroy();
      await handled[0];
      assert.equal(reads, 0, 'the instance was not read for a client already gone');
    } finally {
      server.close();
    }
  });
});
