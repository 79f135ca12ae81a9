/**
 * `aegis backup DEST` and `aegis restore SRC` (docs/operations.md): an online, checked copy of the
 * catalog, the shred key vault and the master key files of a data folder, with a manifest of
 * hashes (`services/admin/backup.ts`), and its restore into a data folder that holds none of them
 * (`services/admin/restore.ts`). Both say what the backup does not hold (the fragments in the
 * backends, an AEGIS_MASTER_KEY, the configuration) and what to do next. Exit codes: 0 done, 1
 * refused or failed (message), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CommandError, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { catalogFile } from './data-directory.js';
import { loadConfig, type GatewayConfig } from '../config.js';
import { Keyring } from '../keys/keyring.js';
import { backupDataDirectory } from '../services/admin/backup.js';
import { restoreDataDirectory } from '../services/admin/restore.js';
import { MANIFEST_FILE, type BackupManifest } from '../services/admin/backup-manifest.js';

/** Usage of `aegis backup`. */
export const BACKUP_USAGE = `usage: aegis backup DEST [--without-keys] [--config FILE] [--data DIR]

Copies the catalog (instances, users, API keys, audit trail), the shred key vault and the master
key files of the data folder into DEST, a new or empty folder (created 0700, files 0600), while the
gateway runs: a consistent copy as of one moment. The copy is checked (SQLite integrity, the audit
chain against the master keys) before DEST/${MANIFEST_FILE} (sizes and SHA-256 of every file) is written.
The fragments are NOT copied: they stay, sealed, in the backends; back those up by their own means.

  --without-keys   leave the master key files out (keep them apart; a restore needs them)
`;

/** Usage of `aegis restore`. */
export const RESTORE_USAGE = `usage: aegis restore SRC [--config FILE] [--data DIR]

Checks the backup in SRC (every file against its manifest, nothing added, SQLite integrity, the
audit chain against the master keys of SRC/keys and AEGIS_MASTER_KEY) and restores it into the data
folder (owner-only). Refuses a data folder that holds a catalog, a shred key vault or a master key
file: a restore never overwrites them.
`;

/** Runs `aegis backup DEST`; resolves to the exit code. */
export async function backupCommand(argv: string[], io: Omit<CommandIo, 'stdin'> = processIo()): Promise<number> {
  return runCommand('backup', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { 'without-keys': { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(BACKUP_USAGE);
      return 0;
    }
    const dest = resolve(onlyArgument(positionals, 'DEST'));
    const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
    const keyring = await Keyring.load({ dataDir: config.dataDir, env: io.env });
    if (keyring.active === undefined) throw new CommandError('no master key (no key file in DATA/keys/ and no AEGIS_MASTER_KEY): the audit trail of the copy is checked with them; run with the same keys as the gateway');
    const manifest = await backupDataDirectory({ dataDir: config.dataDir, dest, keyring, aegisVersion: aegisVersion(), includeKeys: !values['without-keys'] });
    io.stdout.write(backupReport(dest, manifest, config));
    return 0;
  });
}

/** Runs `aegis restore SRC`; resolves to the exit code. */
export async function restoreCommand(argv: string[], io: Omit<CommandIo, 'stdin'> = processIo()): Promise<number> {
  return runCommand('restore', io, async () => {
    const { values, positionals } = parseCommandLine(argv, {});
    if (values.help) {
      io.stdout.write(RESTORE_USAGE);
      return 0;
    }
    const source = resolve(onlyArgument(positionals, 'SRC'));
    const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
    const manifest = await restoreDataDirectory({ source, dataDir: config.dataDir, env: io.env });
    io.stdout.write(restoreReport(manifest, config));
    return 0;
  });
}

/** The one positional argument after the command word. */
function onlyArgument(positionals: readonly string[], name: string): string {
  const [, value, extra] = positionals;
  if (value === undefined || value === '') throw new UsageError(`which ${name}?`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return value;
}

/** What was backed up, and what the backup does not hold. */
function backupReport(dest: string, manifest: BackupManifest, config: GatewayConfig): string {
  const lines = [
    `backup written to ${dest} and checked: SQLite integrity, schema ${manifest.schema}, audit trail of ${manifest.auditRecords} records intact`,
    `  ${manifest.instances} instances as of ${manifest.createdAt}; manifest ${join(dest, MANIFEST_FILE)}`,
    ...manifest.files.map((file) => `  ${file.path.padEnd(20)} ${String(file.bytes).padStart(12)} bytes  sha256 ${file.sha256}`),
    '',
    'keep as well (not in this backup):',
    ...manifest.masterKeys.filter((key) => !key.inBackup).map((key) => `  - master key '${key.id}' (AEGIS_MASTER_KEY or a key file left out): without it nothing sealed under it can be read`),
    ...config.backends.map((b) => `  - the fragments in backend '${b.name}' (${b.kind}${b.kind === 'fs' ? `, ${b.path}` : ''}): sealed there; the catalog and the master keys make them readable`),
    '  - the configuration file, the policy file and backend credentials',
  ];
  if (manifest.masterKeys.some((key) => key.inBackup)) {
    lines.push('', `${dest} holds master key files: with access to the backends it reads every instance; guard it like the data folder.`);
  }
  lines.push(`Instances stored after ${manifest.createdAt} are not in this catalog: after a restore, 'aegis reindex' finds them in the backends.`);
  return `${lines.join('\n')}\n`;
}

/** What was restored, and what to do next. */
function restoreReport(manifest: BackupManifest, config: GatewayConfig): string {
  const missing = manifest.masterKeys.filter((key) => !key.inBackup).map((key) => `'${key.id}'`);
  return [
    `restored the backup of ${manifest.createdAt} (Aegis ${manifest.aegisVersion}, schema ${manifest.schema}, ${manifest.instances} instances) into ${config.dataDir}`,
    `  checked: every file's SHA-256, SQLite integrity, audit trail of ${manifest.auditRecords} records intact; catalog ${catalogFile(config.dataDir)}`,
    'next:',
    `  - start the gateway on ${config.dataDir} with the configuration it had: the same backends (an fs store that lived in the old data`,
    "    folder: point its backends[].path there, or move that folder's stores/ into the new one)" + (missing.length > 0 ? ` and the master keys ${missing.join(', ')} (AEGIS_MASTER_KEY)` : ''),
    `  - 'aegis reindex --data ${config.dataDir}' adds the instances stored after the backup, from the backends`,
    `  - 'aegis scrub --data ${config.dataDir}' checks every fragment against the restored catalog (instances deleted after the backup show as missing)`,
    '',
  ].join('\n');
}

/** The version of this Aegis (package.json), from the sources or the compiled dist/. */
function aegisVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aegis-dicomweb-gateway' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this one
    }
  }
  throw new CommandError('cannot tell the version of this Aegis: its package.json is missing');
}
