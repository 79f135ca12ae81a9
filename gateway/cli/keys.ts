/**
 * `aegis keys generate|list|rotate`: master keys in `DATA/keys/`
 * or `AEGIS_MASTER_KEY`. Output names keys by id and never shows key material. Each run loads the
 * keys, acts and exits, so it works while a gateway runs on the same data. Exit codes: 0 done,
 * 1 refused or failed (message on stderr), 2 usage.
 */
import { CommandError, formatTable, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { loadConfig, type GatewayConfig } from '../config.js';
import { createKeyFile, keyDirectory } from '../keys/key-directory.js';
import { Keyring } from '../keys/keyring.js';
import { Catalog } from '../catalog/catalog.js';
import { ManifestKeyStore } from '../services/admin/manifest-keys.js';
import { openStores } from './start.js';
import type { MasterKey } from '../keys/master-key.js';
import { rewrapDataKeys, type WrappedKeyStore } from '../keys/rotation.js';
import { createLogger } from '../logger.js';

/** Usage of `aegis keys`. */
export const KEYS_USAGE = `usage: aegis keys <sub-command> [options]

sub-commands:
  generate          create a new random master key in DATA/keys/; it becomes the active key
                    (prints its id, never the key)
  list [--json]     list master keys: id, active, created, source
  rotate            rewrap every wrapped data key under the active master key (fragments are
                    not rewritten); older keys stay in DATA/keys/ until nothing needs them

options (every sub-command):
  --config FILE     configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR        data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help        show this help

Master keys are files DATA/keys/k<N>.key (mode 0600, directory 0700; others are refused), the
highest N active; or AEGIS_MASTER_KEY (base64 of 32 random bytes, e.g. 'openssl rand -base64 32')
with its id in AEGIS_MASTER_KEY_ID (required), which is then the active key.
`;

/** The streams and environment `aegis keys` uses. */
export type KeysCommandIo = Omit<CommandIo, 'stdin'>;

/** The wrapped data keys `rotate` works on, opened for one run. */
export interface WrappedKeySource {
  store: WrappedKeyStore;
  /** Said when the store is empty because it cannot hold anything yet. */
  emptyBecause?: string;
  close(): Promise<void>;
}

/** What the command needs besides its I/O (replaced in tests). */
export interface KeysCommandDeps {
  openWrappedKeys(config: GatewayConfig): Promise<WrappedKeySource>;
}

/** The manifests of the catalog (each holds its instance's wrapped data key). */
const DEFAULT_DEPS: KeysCommandDeps = {
  openWrappedKeys: async (config) => {
    const file = existingCatalog(config.dataDir);
    const keyring = await Keyring.load({ dataDir: config.dataDir, env: process.env });
    const catalog = await Catalog.openSqlite(file);
    const stores = openStores(config, process.env, createLogger('warn', process.stderr));
    return {
      store: new ManifestKeyStore(catalog, stores, keyring),
      emptyBecause: 'no protected instance is stored',
      close: async () => {
        await catalog.close();
        await Promise.all([...stores.values()].map((s) => s.close()));
      },
    };
  },
};

/** Runs `aegis keys ...`; `argv` starts with `keys`. Resolves to the exit code. */
export async function keysCommand(argv: string[], io: KeysCommandIo = processIo(), deps: KeysCommandDeps = DEFAULT_DEPS): Promise<number> {
  return runCommand('keys', io, () => run(argv, io, deps));
}

async function run(argv: string[], io: KeysCommandIo, deps: KeysCommandDeps): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(KEYS_USAGE);
    return 0;
  }
  const [, sub, extra] = positionals;
  if (sub === undefined) throw new UsageError('which sub-command?');
  if (sub !== 'generate' && sub !== 'list' && sub !== 'rotate') throw new UsageError(`unknown sub-command '${sub}'`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  if (values.json && sub !== 'list') throw new UsageError(`'${sub}' takes no --json`);

  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const dir = keyDirectory(config.dataDir);
  // Loading first also refuses key files with loose permissions before anything is written.
  const keyring = await Keyring.load({ dataDir: config.dataDir, env: io.env });
  switch (sub) {
    case 'generate': {
      if (keyring.active?.source === 'environment') {
        throw new CommandError(
          `AEGIS_MASTER_KEY is set, so its key '${keyring.active.id}' stays the active key whatever DATA/keys/ holds; ` +
            'to rotate, put a new key in AEGIS_MASTER_KEY with a new AEGIS_MASTER_KEY_ID (keep the old one as a key file while data needs it), then run aegis keys rotate',
        );
      }
      const key = await createKeyFile(dir, { development: false });
      io.stdout.write(`generated master key ${key!.id} in ${dir}; it is now the active key (run 'aegis keys rotate' to rewrap data keys under it)\n`);
      return 0;
    }
    case 'list':
      io.stdout.write(
        values.json
          ? `${JSON.stringify(
              keyring.keys.map((k) => describe(k, keyring)),
              null,
              2,
            )}\n`
          : formatKeys(keyring, dir),
      );
      return 0;
    case 'rotate':
      return rotate(keyring, config, io, deps);
  }
  return 2;
}

async function rotate(keyring: Keyring, config: GatewayConfig, io: KeysCommandIo, deps: KeysCommandDeps): Promise<number> {
  const source = await deps.openWrappedKeys(config);
  let report;
  try {
    report = await rewrapDataKeys(keyring, source.store);
  } finally {
    await source.close();
  }
  const active = report.activeKeyId;
  if (report.examined === 0) {
    io.stdout.write(`0 data keys rewrapped: there are none${source.emptyBecause ? ` (${source.emptyBecause})` : ''}; active key ${active}\n`);
    return 0;
  }
  io.stdout.write(`${report.rewrapped} data keys rewrapped under ${active}; ${report.alreadyActive} already under it; ${report.skipped} changed meanwhile; ${report.failed.length} failed\n`);
  for (const failure of report.failed) io.stderr.write(`aegis keys: data key ${failure.id} (under ${failure.keyId}) left as it is: ${failure.reason}\n`);
  return report.failed.length === 0 ? 0 : 1;
}

/** What `list --json` shows of a key: never its material. */
function describe(key: MasterKey, keyring: Keyring) {
  return { id: key.id, active: keyring.active === key, createdAt: key.createdAt?.toISOString() ?? null, source: key.source, development: key.development };
}

function formatKeys(keyring: Keyring, dir: string): string {
  if (keyring.keys.length === 0) return `no master keys in ${dir} and no AEGIS_MASTER_KEY (the gateway creates a development key on first start; 'aegis keys generate' creates one)\n`;
  const rows = [['ID', 'ACTIVE', 'CREATED', 'SOURCE']].concat(
    keyring.keys.map((k) => [k.id, keyring.active === k ? 'yes' : '', k.createdAt?.toISOString() ?? '-', `${k.source === 'environment' ? 'AEGIS_MASTER_KEY' : 'file'}${k.development ? ' (development key: replace for production)' : ''}`]),
  );
  return formatTable(rows);
}
