/**
 * `aegis backup`: an online, consistent copy of what in a data folder makes the stored instances
 * findable and readable: the catalog (instances, users, API keys, the audit trail), the shred key
 * vault (an instance key's other half) and the master key files, taken while gateways run and
 * store. The fragments are not copied: they are sealed in the backends under keys the catalog and
 * the master keys hold, and the backends keep them; that is why a copy of these few files is a
 * backup at all. The catalog is copied before the vault: the vault holds a shred key before any
 * catalog row needs it, so every instance of the copied catalog has its key in the copied vault.
 * The copy is checked before it is called a backup: SQLite's integrity check on both databases, a
 * schema this version knows, and the audit chain against the master keys. The manifest is written
 * last, so a folder without one is an unfinished backup; what this run created is removed when it
 * fails.
 */
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../../errors.js';
import type { Keyring } from '../../keys/keyring.js';
import { keyDirectory } from '../../keys/key-directory.js';
import { shredKeyVaultFile } from '../../catalog/shred-key-vault.js';
import { integrityProblems, openCatalogSnapshot, snapshotSqlite } from '../../catalog/snapshot.js';
import { catalogSchemaVersion, refuseNewerCatalog } from '../../catalog/schema-version.js';
import { verifyAuditTrail } from '../../access/audit/verify.js';
import { describeFile, syncPath, MANIFEST_FILE, type BackupManifest } from './backup-manifest.js';

/** What {@link backupDataDirectory} needs. */
export interface BackupRequest {
  /** The data folder of the running gateway. */
  dataDir: string;
  /** The backup folder: new, or an empty folder. */
  dest: string;
  /** The keyring of the data folder (its key files and AEGIS_MASTER_KEY): it checks the audit chain. */
  keyring: Keyring;
  aegisVersion: string;
  /** Copy the master key files of `DATA/keys/` (false: the operator keeps them apart). */
  includeKeys: boolean;
}

/** A key file's name in `DATA/keys/`. */
const KEY_FILE = /^k[1-9][0-9]*\.key$/;

/** Takes the backup; resolves to its manifest once it is checked and written. */
export async function backupDataDirectory(request: BackupRequest): Promise<BackupManifest> {
  const catalog = join(request.dataDir, 'catalog.sqlite');
  if (!existsSync(catalog)) throw new GatewayError('NOT_FOUND', `no catalog at ${catalog}: nothing to back up (check --data or AEGIS_DATA_DIR)`);
  const createdDest = await prepareDestination(request.dest);
  const written: string[] = [];
  try {
    snapshotSqlite(catalog, join(request.dest, 'catalog.sqlite'));
    written.push('catalog.sqlite');
    if (existsSync(shredKeyVaultFile(request.dataDir))) {
      snapshotSqlite(shredKeyVaultFile(request.dataDir), join(request.dest, 'shred-keys.sqlite'));
      written.push('shred-keys.sqlite');
    }
    if (request.includeKeys) written.push(...(await copyKeyFiles(keyDirectory(request.dataDir), keyDirectory(request.dest))));
    const checked = await checkCopy(request.dest, written, request.keyring);
    const files = [];
    for (const path of written) {
      await syncPath(join(request.dest, path));
      files.push(await describeFile(request.dest, path));
    }
    const manifest: BackupManifest = {
      format: 'aegis-backup',
      formatVersion: 1,
      createdAt: new Date().toISOString(),
      aegisVersion: request.aegisVersion,
      ...checked,
      masterKeys: request.keyring.keys.map((key) => ({ id: key.id, inBackup: written.includes(`keys/${key.id}.key`) })),
      files,
    };
    await writeManifest(request.dest, manifest);
    return manifest;
  } catch (error) {
    await removeWritten(request.dest, createdDest);
    throw error;
  }
}

/** Creates `dest` (0700) or accepts an empty folder; CONFLICT for anything else. Resolves true when it created it. */
async function prepareDestination(dest: string): Promise<boolean> {
  if (existsSync(dest)) {
    let entries: string[];
    try {
      entries = await readdir(dest);
    } catch (error) {
      throw new GatewayError('CONFLICT', `${dest} exists and is not a folder that can be read (${(error as NodeJS.ErrnoException).code})`);
    }
    if (entries.length > 0) throw new GatewayError('CONFLICT', `${dest} is not empty: a backup goes into a new or empty folder, and nothing is overwritten`);
    await chmod(dest, 0o700);
    return false;
  }
  await mkdir(dest, { recursive: true, mode: 0o700 });
  await chmod(dest, 0o700); // whatever the umask
  return true;
}

/** Copies the key files of `from` to `to` (0700, files 0600); resolves to their paths in the backup. */
async function copyKeyFiles(from: string, to: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(from)).filter((name) => KEY_FILE.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  if (names.length === 0) return [];
  await mkdir(to, { mode: 0o700 });
  await chmod(to, 0o700);
  for (const name of names) {
    await copyFile(join(from, name), join(to, name), constants.COPYFILE_EXCL);
    await chmod(join(to, name), 0o600);
  }
  return names.map((name) => `keys/${name}`);
}

/** Checks the copy; resolves to what the manifest says of it. BACKUP_INVALID when a check fails. */
async function checkCopy(dest: string, written: readonly string[], keyring: Keyring): Promise<Pick<BackupManifest, 'schema' | 'instances' | 'auditRecords'>> {
  const problems = written.filter((path) => path.endsWith('.sqlite')).flatMap((path) => integrityProblems(join(dest, path)));
  if (problems.length > 0) throw new GatewayError('BACKUP_INVALID', `the copy fails SQLite's integrity check: ${problems.join('; ')}`);
  const copy = openCatalogSnapshot(join(dest, 'catalog.sqlite'));
  try {
    await refuseNewerCatalog(copy.db, join(dest, 'catalog.sqlite'));
    const schema = await catalogSchemaVersion(copy.db);
    if (schema === undefined) throw new GatewayError('BACKUP_INVALID', 'the catalog has no schema: no gateway has opened it yet');
    const audit = await verifyAuditTrail(copy.db, keyring);
    if (!audit.ok) throw new GatewayError('BACKUP_INVALID', `the audit trail of the copy does not verify: record ${audit.firstBroken.seq}: ${audit.firstBroken.problem}`);
    const { n } = await copy.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return { schema, instances: Number(n), auditRecords: audit.records };
  } finally {
    await copy.close();
  }
}

/** Writes the manifest owner-only, durably: aside, fsynced, renamed into place, the folder fsynced. */
async function writeManifest(dest: string, manifest: BackupManifest): Promise<void> {
  const aside = join(dest, `.${MANIFEST_FILE}.tmp`);
  await writeFile(aside, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await syncPath(aside);
  await rename(aside, join(dest, MANIFEST_FILE));
  await syncPath(dest);
}

/** Removes what a failed backup wrote: `dest` when it created it, else everything in it (it was empty). Never throws. */
async function removeWritten(dest: string, createdDest: boolean): Promise<void> {
  try {
    if (createdDest) return await rm(dest, { recursive: true, force: true });
    for (const name of await readdir(dest)) await rm(join(dest, name), { recursive: true, force: true });
  } catch {
    // The failure being reported matters more than the leftovers, which the message's folder shows.
  }
}
