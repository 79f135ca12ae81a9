/**
 * The backup manifest as restore reads it: only the paths a backup may hold (no way out of the
 * folder, nothing but the catalog, the vault and k<N>.key files), each once, and a folder whose
 * files are exactly those listed, with their sizes and hashes; links are refused, not followed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { backupFileProblems, readBackupManifest, type BackupManifest } from '../../../../gateway/services/admin/backup-manifest.js';
import { isGatewayError } from '../../../../gateway/errors.js';

const catalogBytes = Buffer.from('not really SQLite, but hashed all the same');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function manifest(files: BackupManifest['files']): BackupManifest {
  return { format: 'aegis-backup', formatVersion: 1, createdAt: '2026-12-06T17:00:00.000Z', aegisVersion: '0.1.0', schema: '0013-pending-deletions', instances: 0, auditRecords: 0, masterKeys: [], files };
}

describe('backup manifest', () => {
  let dir: string;
  const catalog = { path: 'catalog.sqlite', bytes: catalogBytes.length, sha256: sha256(catalogBytes) };
  const root = mkdtempSync(join(tmpdir(), 'aegis-backup-manifest-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    dir = mkdtempSync(join(root, 'b-'));
    writeFileSync(join(dir, 'catalog.sqlite'), catalogBytes);
  });
  const write = (json: unknown) => writeFileSync(join(dir, 'backup.json'), JSON.stringify(json));

  it('reads a manifest of listed files, and finds nothing wrong with a folder that holds exactly them', async () => {
    write(manifest([catalog]));
    const read = await readBackupManifest(dir);
    assert.deepEqual(read, manifest([catalog]));
    assert.deepEqual(await backupFileProblems(dir, read), []);
  });

  for (const path of ['../catalog.sqlite', '/etc/passwd', 'keys/../../x.key', 'keys/k0.key', 'keys/admin.key', 'admin-password', 'stores/local/m/aa']) {
    it(`refuses a manifest naming ${path}`, async () => {
      write(manifest([catalog, { path, bytes: 1, sha256: 'a'.repeat(64) }]));
      await assert.rejects(readBackupManifest(dir), (error: unknown) => isGatewayError(error, 'BACKUP_INVALID') && /files\.1\.path: /.test(error.message));
    });
  }

  it('refuses a manifest without the catalog, or with a file twice', async () => {
    write(manifest([{ ...catalog, path: 'shred-keys.sqlite' }]));
    await assert.rejects(readBackupManifest(dir), { code: 'BACKUP_INVALID', message: `${join(dir, 'backup.json')} lists no catalog.sqlite` });
    write(manifest([catalog, catalog]));
    await assert.rejects(readBackupManifest(dir), { code: 'BACKUP_INVALID', message: `${join(dir, 'backup.json')} lists a file twice` });
  });

  it('refuses a folder without a manifest, and a manifest of another format', async () => {
    await assert.rejects(readBackupManifest(dir), (error: unknown) => isGatewayError(error, 'BACKUP_INVALID') && error.message.startsWith(`${dir} is not a backup of Aegis:`));
    write({ ...manifest([catalog]), formatVersion: 2 });
    await assert.rejects(readBackupManifest(dir), (error: unknown) => isGatewayError(error, 'BACKUP_INVALID') && /formatVersion: /.test(error.message));
  });

  it('names a missing file, a changed size, a changed byte, an unlisted file and a link', async () => {
    const vault = Buffer.from('vault');
    const read = manifest([catalog, { path: 'shred-keys.sqlite', bytes: vault.length, sha256: sha256(vault) }, { path: 'keys/k1.key', bytes: 3, sha256: 'b'.repeat(64) }]);
    writeFileSync(join(dir, 'shred-keys.sqlite'), Buffer.from('vaulT'));
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys', 'k2.key'), 'planted');
    symlinkSync(join(dir, 'catalog.sqlite'), join(dir, 'other'));
    assert.deepEqual(await backupFileProblems(dir, read), [
      'shred-keys.sqlite does not have the SHA-256 the manifest lists: damaged or altered',
      'keys/k1.key is missing or unreadable (ENOENT)',
      'keys/k2.key is not listed in the manifest',
      'other is not a regular file (a link?)',
    ]);
    writeFileSync(join(dir, 'catalog.sqlite'), Buffer.concat([catalogBytes, Buffer.from('!')]));
    assert.equal((await backupFileProblems(dir, read))[0], `catalog.sqlite has ${catalogBytes.length + 1} bytes, the manifest says ${catalogBytes.length}: damaged or altered`);
  });
});
