/**
 * The `aegis` command line: `aegis start [--config FILE] [--host H]
 * [--port N] [--data DIR]`, with AEGIS_CONFIG, AEGIS_HOST, AEGIS_PORT and AEGIS_DATA_DIR doing the
 * same, `aegis users ...` (local users), `aegis keys ...` (master keys) and the other
 * sub-commands of the usage below; each parses its own options.
 */
import { parseArgs } from 'node:util';
import { COMMON_OPTIONS, hasPasswordArgument } from './command.js';
import { ConfigError, loadConfig } from '../config.js';
import { startGateway } from './cluster.js';

const USAGE = `usage: aegis <command> [options]

commands:
  start   run the gateway
  users   manage local users: add, passwd, disable, enable, list ('aegis users --help')
  keys    manage master keys: generate, list, rotate ('aegis keys --help')
  apikeys manage API keys of users (modalities, routers): create, list, revoke ('aegis apikeys --help')
  audit   check or export the audit trail: verify, export ('aegis audit --help')
  reindex rebuild the catalog from the backends ('aegis reindex --help')
  stats   count instances by protection and bytes stored per backend ('aegis stats --help')
  status  probe the catalog and each backend: state, latency, readiness ('aegis status --help')
  scrub   check every stored fragment and shard against the manifests ('aegis scrub --help')
  repair  rebuild missing or corrupt shards from the others ('aegis repair --help')
  migrate move studies of the upstream PACS into protected storage ('aegis migrate --help')
  policy  explain access decisions, validate the policy file: check, validate ('aegis policy --help')
  receipt verify signed STOW receipts offline ('aegis receipt --help')
  backup  copy the catalog, shred keys and master keys while the gateway runs ('aegis backup --help')
  restore restore a backup into a data folder that has no catalog ('aegis restore --help')
  conformance  run the DICOMweb conformance suite against a server ('aegis conformance --help')
  healthcheck  ask the running gateway's /healthz on the configured port (container health checks)

options (every command):
  --config FILE   configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR      data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help      show this help

options of start:
  --host HOST     address to listen on, default 127.0.0.1 (env AEGIS_HOST)
  --port N        port to listen on, default 8080; 0 picks a free one (env AEGIS_PORT)
`;

/** Options that take a value, of any command: needed to tell the command word from option values. */
const VALUE_OPTIONS = [
  'config',
  'data',
  'host',
  'port',
  'role',
  'attr',
  'password-file',
  'label',
  'expires',
  'from',
  'to',
  'out',
  'policy',
  'user',
  'action',
  'study',
  'purpose',
  'client',
  'time',
  'keys',
  'instance',
  'timeout',
  'rate',
  'since',
  'until',
] as const;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  // Whatever a command creates (catalog, keys, fragments, exports) is its owner's alone.
  process.umask(0o077);
  // Before anything echoes an argument: a password given on the command line is refused unseen.
  if (hasPasswordArgument(argv)) return (await import('./users.js')).usersCommand(argv);
  const { positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: Object.fromEntries(VALUE_OPTIONS.map((name) => [name, { type: 'string' as const }])),
  });
  // Sub-commands load their own code: the gateway's primary process stays small.
  if (positionals[0] === 'users') return (await import('./users.js')).usersCommand(argv);
  if (positionals[0] === 'keys') return (await import('./keys.js')).keysCommand(argv);
  if (positionals[0] === 'apikeys') return (await import('./apikeys.js')).apiKeysCommand(argv);
  if (positionals[0] === 'audit') return (await import('./audit.js')).auditCommand(argv);
  if (positionals[0] === 'reindex') return (await import('./reindex.js')).reindexCommand(argv);
  if (positionals[0] === 'stats') return (await import('./stats.js')).statsCommand(argv);
  if (positionals[0] === 'status') return (await import('./status.js')).statusCommand(argv);
  if (positionals[0] === 'scrub') return (await import('./scrub.js')).scrubCommand(argv);
  if (positionals[0] === 'repair') return (await import('./scrub.js')).repairCommand(argv);
  if (positionals[0] === 'policy') return (await import('./policy.js')).policyCommand(argv);
  if (positionals[0] === 'migrate') return (await import('./migrate.js')).migrateCommand(argv);
  if (positionals[0] === 'receipt') return (await import('./receipt.js')).receiptCommand(argv);
  if (positionals[0] === 'backup') return (await import('./backup.js')).backupCommand(argv);
  if (positionals[0] === 'restore') return (await import('./backup.js')).restoreCommand(argv);
  if (positionals[0] === 'conformance') return (await import('./conformance.js')).conformanceCommand(argv);
  if (positionals[0] === 'healthcheck') return (await import('./healthcheck.js')).healthcheckCommand(argv);
  return startCommand(argv);
}

/** `aegis start` (and the top-level help). */
async function startCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...COMMON_OPTIONS,
        host: { type: 'string' },
        port: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command !== 'start') {
    process.stderr.write(`unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    if (values.port !== undefined && !/^\d+$/.test(values.port)) throw new ConfigError([`--port: '${values.port}' is not a port number`]);
    config = loadConfig({
      file: values.config,
      env: process.env,
      flags: { host: values.host, port: values.port === undefined ? undefined : Number(values.port), dataDir: values.data },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (config.policy !== undefined) {
    // A policy file with problems stops the start-up like a bad configuration: every problem listed.
    const { loadPolicy, PolicyError } = await import('../access/policy/policy.js');
    try {
      loadPolicy(config.policy);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
  }
  const { claimStart, isStartRefusal } = await import('./start-up.js');
  let claims;
  try {
    // Port, production key, data folder and its lock, before anything is created; here, so that
    // a primary refuses once, before it forks workers that would each refuse.
    claims = await claimStart(config);
  } catch (error) {
    if (!isStartRefusal(error)) throw error;
    process.stderr.write(`aegis start: ${error.message}\n`);
    return 1;
  }
  const server = await startGateway(config, { claimed: claims.port });
  await new Promise<void>((resolve) => {
    // close() is idempotent: a second signal while stopping changes nothing.
    // The data folder's lock is released once the gateway has stopped, before the process exits.
    const stop = () =>
      void server
        .close()
        .finally(() => claims.lock?.release())
        .then(resolve, resolve);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}
