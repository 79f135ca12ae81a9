/**
 * Finishing at start-up the deletes a stopped gateway left: the destruction of the keys is in the
 * audit trail for every instance whose key the finishing destroyed, also when the finishing itself
 * stops before all rows are removed (a second kill), and a destruction that fails is audited as
 * failed with the records kept for the next start. A row removed that another worker stored
 * meanwhile under a recorded SOP Instance UID loses its key too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../../gateway/access/audit/event.js';
import { Catalog, type InstanceScope } from '../../../gateway/catalog/catalog.js';
import { PendingDeletions } from '../../../gateway/catalog/pending-deletions.js';
import type { Keyring } from '../../../gateway/keys/keyring.js';
import { createLogger } from '../../../gateway/logger.js';
import type { DeleteDeps } from '../../../gateway/services/delete.js';
import { finishInterruptedDeletes } from '../../../gateway/services/interrupted-deletes.js';
import { catalogInstance } from '../../support/catalog-instance.js';
import { temporaryCatalog } from '../../support/audit.js';

/** A manifest whose instance has shred key `id` and no fragments. */
const manifestWithShredKey = (id: string) => JSON.stringify({ dataKey: { keyId: 'master', wrapped: '', shredKeyId: id }, fragments: [] });

describe('finishing interrupted deletes', () => {
  let temporary: Awaited<ReturnType<typeof temporaryCatalog>>;
  let catalog: Catalog;
  before(async () => {
    temporary = await temporaryCatalog('aegis-interrupted-deletes-');
    catalog = temporary.catalog;
  });
  after(async () => {
    await temporary.remove();
  });

  /** Instances `sops` of a new study, recorded as being deleted; their shred keys are `key-<sop>`. */
  async function interrupted(study: string, sops: string[]): Promise<void> {
    for (const sop of sops) await catalog.addInstance({ ...catalogInstance(study, `${study}.1`, sop), manifest: manifestWithShredKey(`key-${sop}`) });
    await new PendingDeletions(catalog.db).begin(await catalog.listInstances({ study }));
  }

  /** The dependencies of the finishing: the catalog (whose removals may be made to fail), a vault that records what it destroys, an audit that collects. */
  function depsWith(options: { removeInstances?: (scope: InstanceScope) => ReturnType<Catalog['removeInstances']>; destroy?: (ids: string[]) => number }) {
    const events: AuditEvent[] = [];
    const destroyed: string[] = [];
    const destroy = options.destroy ?? ((ids: string[]) => (destroyed.push(...ids), ids.length));
    const keyring = { shredKeys: { destroy } } as unknown as Keyring;
    const facade = Object.create(catalog) as Catalog;
    if (options.removeInstances) facade.removeInstances = options.removeInstances;
    const deps: DeleteDeps = { catalog: facade, stores: new Map(), logger: createLogger('silent'), keyring, audit: { recordNow: async (event) => void events.push(event) } };
    return { deps, events, destroyed };
  }

  it('audits the keys it destroyed even when it stops before every row is removed; the next start removes the rest', async () => {
    await interrupted('5.1', ['5.1.1.1', '5.1.1.2']);
    let calls = 0;
    const first = depsWith({
      removeInstances: async (scope) => {
        if (++calls === 2) throw new Error('the process is killed here');
        return catalog.removeInstances(scope);
      },
    });
    await assert.rejects(finishInterruptedDeletes(first.deps), /killed here/);
    assert.deepEqual(first.destroyed.sort(), ['key-5.1.1.1', 'key-5.1.1.2']);
    assert.deepEqual(
      first.events.map((e) => [e.operation, e.outcome, e.resources?.map((r) => r.instance).sort()]),
      [['key-destruction', 'success', ['5.1.1.1', '5.1.1.2']]],
      'the destruction of both keys is audited although one row only was removed',
    );

    const second = depsWith({});
    assert.equal(await finishInterruptedDeletes(second.deps), 1);
    assert.deepEqual(
      second.events.map((e) => [e.operation, e.outcome, e.resources?.map((r) => r.instance)]),
      [['key-destruction', 'success', ['5.1.1.2']]],
    );
    assert.deepEqual(await catalog.listInstances({ study: '5.1' }), []);
  });

  it('audits a key destruction that fails at start as failed, and keeps the records for the next start', async () => {
    await interrupted('5.2', ['5.2.1.1']);
    const { deps, events } = depsWith({
      destroy: () => {
        throw new Error('the vault is read-only');
      },
    });
    await assert.rejects(finishInterruptedDeletes(deps), /read-only/);
    assert.deepEqual(
      events.map((e) => [e.operation, e.outcome, e.resources?.map((r) => r.instance)]),
      [['key-destruction', 'error', ['5.2.1.1']]],
    );
    assert.deepEqual(
      (await new PendingDeletions(catalog.db).interrupted()).map((row) => row.sop_instance_uid),
      ['5.2.1.1'],
    );
    await new PendingDeletions(catalog.db).cancel(['5.2.1.1']); // the next case starts with no record left
  });

  it('destroys the key of an instance stored again under a recorded SOP Instance UID while it finished (another worker serves meanwhile)', async () => {
    await interrupted('5.3', ['5.3.1.1']);
    const { deps, destroyed } = depsWith({
      removeInstances: async (scope) => {
        await catalog.addInstance({ ...catalogInstance('5.3', '5.3.1', '5.3.1.1'), sha256: '1'.repeat(64), key: 'new', locator: 'new', manifest: manifestWithShredKey('key-new') }, { replace: true });
        return catalog.removeInstances(scope);
      },
    });
    assert.equal(await finishInterruptedDeletes(deps), 1);
    assert.deepEqual(destroyed.sort(), ['key-5.3.1.1', 'key-new'], 'no row goes while its key stays');
  });
});
