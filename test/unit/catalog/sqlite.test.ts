import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';

it('uses node:sqlite where Node has it, and better-sqlite3 only on older Node', async () => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  const hasNodeSqlite = major > 22 || (major === 22 && minor >= 13);
  const dir = mkdtempSync(join(tmpdir(), 'aegis-sqlite-'));
  try {
    const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    // better-sqlite3 12 aborts on Node 24.19+ when a statement is garbage collected: never there.
    assert.equal(catalog.driver, hasNodeSqlite ? 'node:sqlite' : 'better-sqlite3');
    await catalog.check();
    await catalog.close();
    await catalog.close().catch((error: unknown) => assert.fail(`a second close must be harmless: ${String(error)}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
