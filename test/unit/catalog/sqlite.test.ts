import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
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

it('waits for a lock another process holds instead of failing: two aegis commands open one catalog at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-sqlite-'));
  const file = join(dir, 'catalog.sqlite');
  // Another process takes an exclusive lock on the new file, holds it 400 ms, and lets go.
  const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', HOLD_LOCK, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(holder.stdout, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'locked');
    const catalog = await Catalog.openSqlite(file);
    await catalog.check();
    await catalog.close();
    const [code] = (await once(holder, 'exit')) as [number];
    assert.equal(code, 0);
  } finally {
    holder.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

const HOLD_LOCK = `
import { openSqlite } from ${JSON.stringify(new URL('../../../gateway/catalog/sqlite.ts', import.meta.url).href)};
const db = openSqlite(process.argv[1]);
db.exec('BEGIN EXCLUSIVE');
db.exec('CREATE TABLE held (x)');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, 400);
`;
