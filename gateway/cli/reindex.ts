/**
 * `aegis reindex`: rebuilds the catalog from the backends alone — after a lost or wiped
 * catalog, the manifest copies in the backends give back every instance (QIDO and WADO). Needs the
 * master keys that signed and sealed them, and the shred key vault beside the catalog (a deleted
 * instance's shred key is gone, so its copy no longer opens). Works beside a running gateway (SQLite WAL). Exit codes:
 * 0 done (every manifest verified), 1 some did not verify or another failure, 2 usage.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { Catalog } from '../catalog/catalog.js';
import { ShredKeyVault, shredKeyVaultFile } from '../catalog/shred-key-vault.js';
import { loadConfig, targetOf } from '../config.js';
import { Keyring } from '../keys/keyring.js';
import { createLogger } from '../logger.js';
import { reindex } from '../services/admin/reindex.js';
import { openStores } from './start.js';

/** Usage of `aegis reindex`. */
export const REINDEX_USAGE = `usage: aegis reindex [--json] [--config FILE] [--data DIR]

Rebuilds the catalog from the manifest copies in the backends: every instance whose manifest and
fragments verify is recorded again (instances already recorded with the same SHA-256 are left alone).
Needs the master keys (DATA/keys/ or AEGIS_MASTER_KEY) that protected the instances, and the
shred key vault (DATA/shred-keys.sqlite): a deleted instance's copy no longer opens.
`;

/** Runs `aegis reindex`; resolves to the exit code. */
export async function reindexCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('reindex', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(REINDEX_USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
    const keyring = await Keyring.load({ dataDir: config.dataDir, env: io.env });
    if (keyring.active === undefined) throw new CommandError('no master key (DATA/keys/ or AEGIS_MASTER_KEY): nothing protected can be opened');
    // The one command that may create a catalog (it rebuilds a lost one), but never a data folder:
    // a missing one means a wrong --data.
    if (!existsSync(config.dataDir)) throw new CommandError(`no data folder ${config.dataDir}: is --data right? To rebuild the catalog in a new one, create it first (mkdir -m 700 ${config.dataDir})`);
    const catalog = await Catalog.openSqlite(join(config.dataDir, 'catalog.sqlite'));
    const shredKeys = ShredKeyVault.open(shredKeyVaultFile(config.dataDir));
    keyring.useShredKeys(shredKeys);
    const stores = openStores(config, io.env, createLogger('warn', io.stderr));
    try {
      const report = await reindex({ catalog, stores, keyring, logger: createLogger('warn', io.stderr), instances: targetOf(config.placement, config.placement.instances).backends[0] });
      if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        io.stdout.write(`${report.manifests} manifest copies: ${report.restored} instances restored, ${report.alreadyPresent} already in the catalog, ${report.failed.length} failed\n`);
        for (const f of report.failed) io.stdout.write(`  failed: ${f.backend} ${f.locator}: ${f.reason}\n`);
        for (const u of report.unlisted) io.stdout.write(`  not searched: ${u.backend} (${u.kind} cannot list its fragments)\n`);
      }
      return report.failed.length === 0 ? 0 : 1;
    } finally {
      await catalog.close();
      shredKeys.close();
      await Promise.all([...stores.values()].map((s) => s.close()));
    }
  });
}
