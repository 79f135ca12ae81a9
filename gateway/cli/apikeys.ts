/**
 * `aegis apikeys create|list|revoke`: API keys for modalities and routers that send with
 * `Authorization: ApiKey <key>` or `X-API-Key`. A key acts as the local user it belongs to (their
 * role and attributes); it is printed once when created and only its SHA-256 is kept. Works while a
 * gateway runs on the same data. Exit codes: 0 done, 1 refused or failed, 2 usage.
 */
import { formatTable, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { ApiKeyStore, type ApiKeyInfo } from '../access/authn/api-keys.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';

/** Usage of `aegis apikeys`. */
export const APIKEYS_USAGE = `usage: aegis apikeys <sub-command> [options]

sub-commands:
  create USER [--label TEXT] [--expires ISO-DATE]
                    create a key acting as USER; the key is printed once, keep it in the device's config
  list [USER] [--json]
                    list keys (never their secrets)
  revoke ID         revoke a key at once (gateways stop accepting it within the credential cache time)

options (every sub-command):
  --config FILE     configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR        data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help        show this help
`;

/** Runs `aegis apikeys ...`; `argv` starts with `apikeys`. Resolves to the exit code. */
export async function apiKeysCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('apikeys', io, () => run(argv, io));
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    label: { type: 'string' },
    expires: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(APIKEYS_USAGE);
    return 0;
  }
  const [, sub, argument, ...extra] = positionals;
  const allowed: Record<string, string[]> = { create: ['label', 'expires'], list: ['json'], revoke: [] };
  if (sub === undefined) throw new UsageError('which sub-command?');
  if (!Object.hasOwn(allowed, sub)) throw new UsageError(`unknown sub-command '${sub}'`);
  for (const option of Object.keys(values)) {
    if (option !== 'config' && option !== 'data' && !allowed[sub].includes(option)) throw new UsageError(`'${sub}' takes no --${option}`);
  }
  if (sub !== 'list' && argument === undefined) throw new UsageError(`'${sub}' needs ${sub === 'revoke' ? 'a key id' : 'a user name'}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  let expiresAt: Date | undefined;
  if (values.expires !== undefined) {
    expiresAt = new Date(values.expires);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) throw new UsageError('--expires needs a future ISO 8601 date');
  }

  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const file = existingCatalog(config.dataDir);
  const catalog = await Catalog.openSqlite(file);
  try {
    const keys = new ApiKeyStore(catalog.db);
    switch (sub) {
      case 'create': {
        const { key, info } = await keys.create(argument!, { label: values.label, expiresAt });
        io.stderr.write(`created API key ${info.id} for '${info.user}'; it is shown only this once:\n`);
        io.stdout.write(`${key}\n`);
        break;
      }
      case 'list': {
        const list = await keys.list(argument);
        io.stdout.write(values.json ? `${JSON.stringify(list, null, 2)}\n` : formatKeys(list));
        break;
      }
      case 'revoke':
        await keys.revoke(argument!);
        io.stdout.write(`API key ${argument} revoked\n`);
        break;
    }
  } finally {
    await catalog.close();
  }
  return 0;
}

function formatKeys(keys: ApiKeyInfo[]): string {
  if (keys.length === 0) return 'no API keys\n';
  const status = (k: ApiKeyInfo) => (k.revokedAt ? 'revoked' : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : 'active');
  const rows = [['ID', 'USER', 'STATUS', 'CREATED', 'LAST USED', 'LABEL']].concat(keys.map((k) => [k.id, k.user, status(k), k.createdAt.slice(0, 19), k.lastUsedAt?.slice(0, 19) ?? '-', k.label]));
  return formatTable(rows);
}
