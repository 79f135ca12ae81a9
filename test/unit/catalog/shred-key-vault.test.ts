/**
 * The shred key vault deletes for real: a destroyed shred key is in none of the vault's files
 * (database, WAL), while a key still held is (so the search would find one), and the file is
 * its owner's only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ShredKeyVault, shredKeyVaultFile } from '../../../gateway/catalog/shred-key-vault.js';

/** Every byte SQLite keeps of the vault: the database file, its WAL and its rollback journal. */
function vaultBytes(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-journal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

describe('shred key vault', () => {
  it('keeps no byte of a destroyed shred key in its files (secure_delete, WAL checkpointed)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aegis-vault-'));
    try {
      const file = shredKeyVaultFile(dir);
      const vault = ShredKeyVault.open(file);
      const kept = randomBytes(32);
      const doomed = Array.from({ length: 50 }, () => randomBytes(32));
      vault.add('0'.repeat(32), kept);
      doomed.forEach((secret, i) => vault.add(i.toString(16).padStart(32, 'a'), secret));
      assert.deepEqual(vault.find('0'.repeat(32)), kept);
      assert.ok(vaultBytes(file).includes(doomed[7]), 'before destruction the secret is on disk');

      const destroyed = vault.destroy([...doomed.keys()].map((i) => i.toString(16).padStart(32, 'a')).concat(['f'.repeat(32)]));
      assert.equal(destroyed, 50, 'the unknown id is not counted');
      assert.equal(vault.find('a'.repeat(32)), undefined);
      assert.equal(vault.count(), 1);
      const bytes = vaultBytes(file);
      for (const [i, secret] of doomed.entries()) assert.equal(bytes.includes(secret), false, `destroyed shred key ${i} still in the vault's files`);
      assert.ok(bytes.includes(kept), 'a shred key still held is found by the same search');
      vault.close();

      const again = ShredKeyVault.open(file);
      assert.deepEqual(again.find('0'.repeat(32)), kept, 'held keys survive a reopen');
      again.close();
      assert.equal(statSync(file).mode & 0o777, 0o600, 'owner-only');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
