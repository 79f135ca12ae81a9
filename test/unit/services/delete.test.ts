/**
 * The delete use case against a real catalog: an instance stored again under a SOP Instance UID of
 * the scope while the DELETE runs (same UID, new bytes, new shred key) is removed with the others,
 * and its shred key is destroyed and audited with them: no row goes while its key stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../../gateway/access/audit/event.js';
import { parsePolicy } from '../../../gateway/access/policy/policy.js';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import type { Keyring } from '../../../gateway/keys/keyring.js';
import { createLogger } from '../../../gateway/logger.js';
import type { RequestAccess } from '../../../gateway/services/authorization.js';
import { deleteInstances } from '../../../gateway/services/delete.js';
import { catalogInstance } from '../../support/catalog-instance.js';
import { temporaryCatalog } from '../../support/audit.js';

/** A manifest whose instance has shred key `id` and no fragments. */
const manifestWithShredKey = (id: string) => JSON.stringify({ dataKey: { keyId: 'master', wrapped: '', shredKeyId: id }, fragments: [] });

/** An administrator's access under a policy that lets the admin role do anything. */
function adminAccess(): RequestAccess {
  const policy = parsePolicy('version: 1\ntimeZone: UTC\nrules:\n  - id: admins\n    subjects: { role: admin }\n    actions: [read, search, export, create, delete]\n', 'test policy');
  const subject = { name: 'root', role: 'admin', attributes: {}, method: 'password' as const };
  const environment = { time: new Date(), clientAddress: '127.0.0.1', purpose: 'TREAT' as const };
  return { subject, environment, ability: policy.abilityFor(subject, environment), decisions: [] };
}

describe('delete', () => {
  let temporary: Awaited<ReturnType<typeof temporaryCatalog>>;
  let catalog: Catalog;
  before(async () => {
    temporary = await temporaryCatalog('aegis-delete-');
    catalog = temporary.catalog;
  });
  after(async () => {
    await temporary.remove();
  });

  it('destroys the shred key of an instance stored again under the same SOP Instance UID while the DELETE ran', async () => {
    await catalog.addInstance({ ...catalogInstance('6.1', '6.1.1', '6.1.1.1'), manifest: manifestWithShredKey('key-old') });
    await catalog.addInstance({ ...catalogInstance('6.1', '6.1.1', '6.1.1.2'), manifest: manifestWithShredKey('key-other') });
    const destroyed: string[] = [];
    const keyring = { shredKeys: { destroy: (ids: string[]) => (destroyed.push(...ids), ids.length) } } as unknown as Keyring;
    const events: AuditEvent[] = [];
    // Between the DELETE's listing and its removal of the rows, a STOW replaces the first instance.
    const facade = Object.create(catalog) as Catalog;
    facade.removeInstances = async (scope) => {
      await catalog.addInstance({ ...catalogInstance('6.1', '6.1.1', '6.1.1.1'), sha256: '1'.repeat(64), key: 'new', locator: 'new', manifest: manifestWithShredKey('key-new') }, { replace: true });
      return catalog.removeInstances(scope);
    };
    const deps = { catalog: facade, stores: new Map(), logger: createLogger('silent'), keyring, audit: { recordNow: async (event: AuditEvent) => void events.push(event) } };
    assert.equal(await deleteInstances(deps, adminAccess(), { study: '6.1' }), 2);
    assert.deepEqual(destroyed.sort(), ['key-new', 'key-old', 'key-other'], 'the key of the instance stored meanwhile is destroyed too');
    assert.deepEqual(await catalog.listInstances({ study: '6.1' }), []);
    assert.equal(events.length, 1);
    assert.equal(events[0].outcome, 'success');
    assert.match(events[0].reason ?? '', /shred keys of 3 instances destroyed/);
  });
});
