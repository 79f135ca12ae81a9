/**
 * No downgrade: a catalog that a newer Aegis has migrated (it records a migration this one does
 * not know) is refused at open with CATALOG_TOO_NEW, naming both schema versions, and is left
 * exactly as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { catalogSchemaVersion, LATEST_SCHEMA } from '../../../gateway/catalog/schema-version.js';
import { openSqlite } from '../../../gateway/catalog/sqlite.js';
import { isGatewayError } from '../../../gateway/errors.js';

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), 'aegis-schema-version-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

it('a catalog migrated by this version opens, and reports the latest schema this version knows', async () => {
  const file = join(dir, 'current.sqlite');
  const catalog = await Catalog.openSqlite(file);
  await catalog.close();
  assert.equal(LATEST_SCHEMA, '0013-pending-deletions');
  const again = await Catalog.openSqlite(file);
  try {
    assert.equal(await catalogSchemaVersion(again.db), LATEST_SCHEMA);
  } finally {
    await again.close();
  }
});

it('a catalog with a migration this version does not know is refused, naming both versions, and left untouched', async () => {
  const file = join(dir, 'future.sqlite');
  await (await Catalog.openSqlite(file)).close();
  const raw = openSqlite(file);
  raw.exec("INSERT INTO kysely_migration (name, timestamp) VALUES ('0099-from-the-future', '2099-01-01T00:00:00.000Z')");
  raw.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  raw.close();
  const before = readFileSync(file);

  await assert.rejects(Catalog.openSqlite(file), (error: unknown) => {
    assert.ok(isGatewayError(error, 'CATALOG_TOO_NEW'), `CATALOG_TOO_NEW, got ${String(error)}`);
    assert.equal(
      error.message,
      `the catalog at ${file} has schema 0099-from-the-future, which this version of Aegis does not know (its latest is ${LATEST_SCHEMA}): ` +
        'a newer Aegis has upgraded it, and Aegis does not downgrade; run that newer version, or restore a backup taken before the upgrade',
    );
    return true;
  });
  assert.ok(readFileSync(file).equals(before), 'the catalog file is unchanged');
});
