/**
 * The record of deletes in progress: what a DELETE records before it destroys keys is listed as
 * interrupted while its instance is catalogued, goes with the instance's row in the same
 * transaction, is forgotten when the instance is gone, and can be cancelled.
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
});
