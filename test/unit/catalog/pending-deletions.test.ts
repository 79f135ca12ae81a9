/**
 * The record of deletes in progress: what a DELETE records before it destroys keys is listed as
 * interrupted while its instance is catalogued, goes with the instance's row in the same
 * transaction, is forgotten when the instance is gone or replaced by a new one of the same SOP
 * Instance UID, and can be cancelled.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { PendingDeletions } from '../../../gateway/catalog/pending-deletions.js';
import { catalogInstance } from '../../support/catalog-instance.js';

describe('pending deletions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-pending-deletions-'));
  let catalog: Catalog;
  before(async () => (catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'))));
  after(() => catalog.close().finally(() => rmSync(dir, { recursive: true, force: true })));

  const sops = async () => (await new PendingDeletions(catalog.db).interrupted()).map((row) => row.sop_instance_uid).sort();

  it('lists recorded instances until their rows are removed, forgets records of instances gone, and cancels', async () => {
    for (const sop of ['1.1', '1.2', '1.3', '1.4']) await catalog.addInstance(catalogInstance('9.1', sop === '1.4' ? '8.2' : '8.1', sop));
    const pending = new PendingDeletions(catalog.db);
    const rows = await catalog.listInstances({ study: '9.1' });
    await pending.begin(rows.filter((row) => row.sop_instance_uid !== '1.4'));
    await pending.begin(rows.filter((row) => row.sop_instance_uid === '1.1')); // recorded twice: once
    assert.deepEqual(await sops(), ['1.1', '1.2', '1.3']);

    await catalog.removeInstances({ study: '9.1', series: '8.1', instance: '1.1' });
    assert.deepEqual(await sops(), ['1.2', '1.3'], 'gone with the row');

    await pending.cancel(['1.2']);
    assert.deepEqual(await sops(), ['1.3']);

    // A record whose instance went another way (a row removed without its record: an older
    // version's DELETE) is forgotten, not listed.
    await catalog.db.insertInto('pending_deletions').values({ sop_instance_uid: '7.7', study_uid: '9.1', series_uid: '8.1', requested_at: new Date().toISOString() }).execute();
    assert.deepEqual(await sops(), ['1.3']);
    assert.deepEqual(
      (await catalog.db.selectFrom('pending_deletions').select('sop_instance_uid').execute()).map((r) => r.sop_instance_uid),
      ['1.3'],
    );
    assert.equal((await catalog.listInstances({ study: '9.1' })).length, 3, 'nothing else removed');
  });
  it('forgets the record of an instance stored again since (same SOP Instance UID, new bytes): the new one is not deleted at the next start', async () => {
    await catalog.addInstance(catalogInstance('9.2', '8.3', '2.1'));
    await new PendingDeletions(catalog.db).begin(await catalog.listInstances({ study: '9.2' }));
    assert.deepEqual(await sops(), ['1.3', '2.1']);
    // The DELETE stopped with the row still there (killed, or its catalog removal failed); the client stores the instance again.
    await catalog.addInstance({ ...catalogInstance('9.2', '8.3', '2.1'), sha256: '1'.repeat(64), key: '2.1-new', locator: '2.1-new' }, { replace: true });
    assert.deepEqual(await sops(), ['1.3'], 'the new instance is not listed as being deleted');
    assert.equal((await catalog.findInstance('2.1'))?.locator, '2.1-new');
    // A record left without its instance while the gateway runs (a second DELETE of the same study,
    // a client's retry, recorded after the first had removed the rows) is not applied to an instance stored afresh.
    await catalog.db.insertInto('pending_deletions').values({ sop_instance_uid: '2.2', study_uid: '9.2', series_uid: '8.3', requested_at: new Date().toISOString() }).execute();
    await catalog.addInstance(catalogInstance('9.2', '8.3', '2.2'));
    assert.deepEqual(await sops(), ['1.3'], 'the instance stored afresh is not listed as being deleted');
  });
});
