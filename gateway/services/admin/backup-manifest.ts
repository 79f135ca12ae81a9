/**
 * The manifest of a backup (`DEST/backup.json`, written last: a folder without it is not a
 * backup): when it was taken, by which version of Aegis, the catalog's schema, what it holds, the
 * master keys the catalog needs and whether each is in the backup, and the size and SHA-256 of every
 * file. A backup folder has the layout of a data folder (`catalog.sqlite`, `shred-keys.sqlite`,
 * `keys/k<N>.key`), so that the commands that take `--data` also read a backup. The hashes find
 * a backup that was damaged or altered after it was taken, file by file; a folder also holding
 * files the manifest does not list is refused too (a planted key file would join the keyring).
 * Whoever can rewrite the manifest can rewrite the hashes: the audit chain, checked against the
 * master keys on restore, is what finds a forged catalog.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';

/** The manifest's file name inside a backup folder. */
export const MANIFEST_FILE = 'backup.json';

/** The files a backup may hold, relative to its folder: the only paths a manifest may name. */
const BACKUP_PATH = /^(catalog\.sqlite|shred-keys\.sqlite|keys\/k[1-9][0-9]*\.key)$/;

const ManifestSchema = z.strictObject({
  format: z.literal('aegis-backup'),
  formatVersion: z.literal(1),
  createdAt: z.string(),
  aegisVersion: z.string(),
  /** The catalog's schema version: the name of its last migration. */
  schema: z.string(),
  instances: z.number().int().min(0),
  auditRecords: z.number().int().min(0),
  /** The master keys the keyring held when the backup was taken; `inBackup` false for AEGIS_MASTER_KEY and when keys were left out. */
  masterKeys: z.array(z.strictObject({ id: z.string(), inBackup: z.boolean() })),
  files: z.array(z.strictObject({ path: z.string().regex(BACKUP_PATH), bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).min(1),
});

/** A backup's manifest. */
export type BackupManifest = z.infer<typeof ManifestSchema>;

/** One file of a backup. */
export type BackupFile = BackupManifest['files'][number];

/** Size and SHA-256 of the file `path` of the folder `root`. */
export async function describeFile(root: string, path: string): Promise<BackupFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(join(root, path))) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { path, bytes, sha256: hash.digest('hex') };
}

/** Reads and checks the manifest of the backup folder `dir`; BACKUP_INVALID when it is missing or malformed. */
export async function readBackupManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    throw new GatewayError('BACKUP_INVALID', `${dir} is not a backup of Aegis: ${join(dir, MANIFEST_FILE)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatewayError('BACKUP_INVALID', `${join(dir, MANIFEST_FILE)} is not JSON`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new GatewayError('BACKUP_INVALID', `${join(dir, MANIFEST_FILE)} is not a backup manifest Aegis can read: ${problems.join('; ')}`);
  }
  const paths = parsed.data.files.map((file) => file.path);
  if (!paths.includes('catalog.sqlite')) throw new GatewayError('BACKUP_INVALID', `${join(dir, MANIFEST_FILE)} lists no catalog.sqlite`);
  if (new Set(paths).size !== paths.length) throw new GatewayError('BACKUP_INVALID', `${join(dir, MANIFEST_FILE)} lists a file twice`);
  return parsed.data;
}

/**
 * What is wrong with the files of the backup folder `dir` against `manifest`: a listed file that is
 * missing, of another size or another SHA-256, and a file or folder the manifest does not list.
 * None when every file is as it was taken.
 */
export async function backupFileProblems(dir: string, manifest: BackupManifest): Promise<string[]> {
  const problems: string[] = [];
  for (const expected of manifest.files) {
    let found: BackupFile;
    try {
      found = await describeFile(dir, expected.path);
    } catch (error) {
      problems.push(`${expected.path} is missing or unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      continue;
    }
    if (found.bytes !== expected.bytes) problems.push(`${expected.path} has ${found.bytes} bytes, the manifest says ${expected.bytes}: damaged or altered`);
    else if (found.sha256 !== expected.sha256) problems.push(`${expected.path} does not have the SHA-256 the manifest lists: damaged or altered`);
  }
  const listed = new Set([MANIFEST_FILE, ...manifest.files.map((file) => file.path)]);
  for (const { path, regular } of await entriesUnder(dir)) {
    if (!regular) problems.push(`${path} is not a regular file (a link?)`);
    else if (!listed.has(path)) problems.push(`${path} is not listed in the manifest`);
  }
  return problems;
}

/** Every entry under `dir` (inside `keys/` too), in name order, as a path relative to it with '/'; `regular` for plain files (not links). */
async function entriesUnder(dir: string, prefix = ''): Promise<Array<{ path: string; regular: boolean }>> {
  const found: Array<{ path: string; regular: boolean }> = [];
  const entries = (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory() && path === 'keys') found.push(...(await entriesUnder(dir, path)));
    else found.push({ path, regular: entry.isFile() });
  }
  return found;
}

/** fsync of a file or folder: what was written to it, or the names in it, are on the disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
