/**
 * `aegis restore`: puts a backup (`services/admin/backup.ts`) into a data folder, after checking
 * it: every file as the manifest lists it and no other, both databases intact, a schema this
 * version knows, and the audit chain verified against the master keys (those in the backup and
 * AEGIS_MASTER_KEY): a restore has one way to succeed, every check passed. It never overwrites: a
 * data folder that has a catalog, a shred key vault or a master key file is refused, whether a
 * gateway runs on it or not (move them away first); the fs stores a data folder may hold stay
 * where they are. Each file is copied aside, hashed again and then linked into place, which fails
 * rather than replaces a file that appeared meanwhile; what this run placed is removed when a
 * step fails.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GatewayError } from '../../errors.js';
import { Keyring } from '../../keys/keyring.js';
import { keyDirectory } from '../../keys/key-directory.js';
import { integrityProblems, openCatalogSnapshot } from '../../catalog/snapshot.js';
import { refuseNewerCatalog } from '../../catalog/schema-version.js';
import { verifyAuditTrail } from '../../access/audit/verify.js';
import { backupFileProblems, describeFile, syncPath, readBackupManifest, type BackupManifest } from './backup-manifest.js';

/** What {@link restoreDataDirectory} needs. */
export interface RestoreRequest {
  /** The backup folder. */
  source: string;
  /** The data folder to restore into: new, or without a catalog, vault or key file. */
  dataDir: string;
  /** Where AEGIS_MASTER_KEY comes from. */
  env: NodeJS.ProcessEnv;
}

/** The files of a data folder a restore never replaces. */
const RESTORED_NAMES = /^(catalog\.sqlite|shred-keys\.sqlite)(-wal|-shm|-journal)?$/;

/** Checks the backup, then restores it; resolves to its manifest. */
export async function restoreDataDirectory(request: RestoreRequest): Promise<BackupManifest> {
  const manifest = await checkBackup(request.source, request.env);
  await refuseOccupied(request.dataDir);
  await mkdir(request.dataDir, { recursive: true, mode: 0o700 });
  const placed: string[] = [];
  try {
    for (const file of manifest.files) {
      const target = join(request.dataDir, file.path);
      if (file.path.startsWith('keys/')) await mkdir(dirname(target), { mode: 0o700 }).then(() => chmod(dirname(target), 0o700), ignoreExists);
      const aside = `${target}.restoring-${randomBytes(6).toString('hex')}`;
      try {
        await copyFile(join(request.source, file.path), aside);
        await chmod(aside, 0o600);
        await syncPath(aside);
        const copied = await describeFile(dirname(aside), basename(aside));
        if (copied.sha256 !== file.sha256) throw new GatewayError('BACKUP_INVALID', `${file.path} changed while it was copied: nothing restored`);
        await link(aside, target).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
          throw new GatewayError('CONFLICT', `${target} appeared while the backup was restored (a gateway started on ${request.dataDir}?): nothing restored`);
        });
        placed.push(target);
      } finally {
        await rm(aside, { force: true });
      }
    }
    await syncPath(request.dataDir);
    if (existsSync(keyDirectory(request.dataDir))) await syncPath(keyDirectory(request.dataDir));
  } catch (error) {
    for (const path of placed) await rm(path, { force: true }).catch(() => undefined);
    throw error;
  }
  return manifest;
}

/** Every check of the backup folder `source`; BACKUP_INVALID (or CATALOG_TOO_NEW) naming every problem found. */
async function checkBackup(source: string, env: NodeJS.ProcessEnv): Promise<BackupManifest> {
  const manifest = await readBackupManifest(source);
  const problems = await backupFileProblems(source, manifest);
  if (problems.length > 0) throw new GatewayError('BACKUP_INVALID', `the backup in ${source} does not verify, nothing restored: ${problems.join('; ')}`);
  const broken = manifest.files.filter((file) => file.path.endsWith('.sqlite')).flatMap((file) => integrityProblems(join(source, file.path)));
  if (broken.length > 0) throw new GatewayError('BACKUP_INVALID', `the backup in ${source} fails SQLite's integrity check, nothing restored: ${broken.join('; ')}`);
  const keyring = await Keyring.load({ dataDir: source, env });
  const catalog = openCatalogSnapshot(join(source, 'catalog.sqlite'));
  try {
    await refuseNewerCatalog(catalog.db, join(source, 'catalog.sqlite'));
    const audit = await verifyAuditTrail(catalog.db, keyring);
    if (!audit.ok) {
      throw new GatewayError(
        'BACKUP_INVALID',
        `the audit trail of the backup in ${source} does not verify, nothing restored: record ${audit.firstBroken.seq}: ${audit.firstBroken.problem} ` +
          '(restore with the master keys of the gateway: the key files of the backup, and AEGIS_MASTER_KEY with AEGIS_MASTER_KEY_ID if it used one)',
      );
    }
  } finally {
    await catalog.close();
  }
  return manifest;
}

/** CONFLICT when `dataDir` holds a catalog, a vault (or their journals) or a master key file. */
async function refuseOccupied(dataDir: string): Promise<void> {
  const found = [...(await namesIn(dataDir)).filter((name) => RESTORED_NAMES.test(name)), ...(await namesIn(keyDirectory(dataDir))).map((name) => `keys/${name}`)];
  if (found.length === 0) return;
  throw new GatewayError(
    'CONFLICT',
    `${dataDir} already holds ${found.join(', ')}: a restore never overwrites a catalog, its keys or a folder a gateway may be running on; ` + 'stop the gateway and move them away, or restore into a new folder',
  );
}

/** The names in the folder `dir`; none when it does not exist. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function ignoreExists(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EEXIST') throw error;
}
