/**
 * Two gateway workers are two connections to one SQLite catalog. A transaction that reads before
 * it writes cannot wait for the other's write: SQLite refuses its upgrade to a writer at once
 * (SQLITE_BUSY, the busy timeout does not apply) when another connection committed after its
 * read. Found by the soak (`npm run soak`): DELETE answered 500 "database is locked" about once a
 * minute while the other worker stored instances.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { openSqlite } from '../../../gateway/catalog/sqlite.js';
import { catalogInstance as instance } from '../../support/catalog-instance.js';

it('removes a study while another connection (another worker) commits a write in the middle of the removal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-writers-'));
  const file = join(dir, 'catalog.sqlite');
  const catalog = await Catalog.openSqlite(file);
  const other = openSqlite(file);
  try {
    await catalog.addInstance(instance('1.2.3', '1.2.3.1', '1.2.3.1.1'));
    await catalog.addInstance(instance('1.2.3', '1.2.3.1', '1.2.3.1.2'));
    other.exec('CREATE TABLE other_worker (n INTEGER)');
    // The other worker commits a write just before the removal's first write to the instances.
    const database = (catalog as unknown as { sqlite: { database: { prepare(sql: string): unknown } } }).sqlite.database;
    const prepare = database.prepare.bind(database);
    let interleaved = 0;
    database.prepare = (sql: string) => {
      if (/^delete from "instances"/i.test(sql) && interleaved++ === 0) other.exec('INSERT INTO other_worker VALUES (1)');
      return prepare(sql);
    };
    const removed = await catalog.removeInstances({ study: '1.2.3' });
    assert.equal(interleaved, 1, 'the other write happened during the removal');
    assert.deepEqual(removed.map((r) => r.sop_instance_uid).sort(), ['1.2.3.1.1', '1.2.3.1.2']);
    assert.deepEqual(await catalog.listInstances({ study: '1.2.3' }), []);
    assert.equal(await catalog.db.selectFrom('studies').select('study_uid').where('study_uid', '=', '1.2.3').executeTakeFirst(), undefined);
    assert.equal(await catalog.db.selectFrom('series').select('series_uid').where('series_uid', '=', '1.2.3.1').executeTakeFirst(), undefined);
  } finally {
    other.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
