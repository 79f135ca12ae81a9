/**
 * `aegis audit verify|export` (docs/audit.md): checks the hash chain of the audit
 * trail, or writes it out as DICOM audit messages (PS3.15 A.5), one JSON object per line. Each run
 * opens the catalog and loads the keyring read-only (it never creates a key), so it works while a
 * gateway runs on the same data. Export is itself recorded in the trail (PS3.15 A.5.3.2 "Audit Log
 * Used"). Exit codes: 0 intact / exported, 1 broken trail or failure (message), 2 usage.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import { CommandError, operatorName, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';
import { Keyring } from '../keys/keyring.js';
import { AuditTrail } from '../access/audit/trail.js';
import { verifyAuditTrail } from '../access/audit/verify.js';
import { exportAuditTrail } from '../access/audit/export.js';

/** Usage of `aegis audit`. */
export const AUDIT_USAGE = `usage: aegis audit <sub-command> [options]

sub-commands:
  verify            check the audit trail's hash chain and signed head; exit 0 when intact,
                    1 naming the first broken record
  export [--from TIME] [--to TIME] [--out FILE]
                    write the trail as DICOM audit messages (PS3.15 A.5), one JSON object per
                    line, to standard output or FILE (created 0600: it holds PHI); TIME is ISO 8601,
                    --from inclusive, --to exclusive

options (every sub-command):
  --config FILE     configuration file, YAML or JSON (env AEGIS_CONFIG)
  --data DIR        data directory, default ./data (env AEGIS_DATA_DIR)
  -h, --help        show this help

The trail is verified with the master keys of DATA/keys/ and AEGIS_MASTER_KEY: run with the same
keys as the gateway. See docs/audit.md for what verify detects and what it cannot.
`;

/** Runs `aegis audit ...`; `argv` starts with `audit`. Resolves to the exit code. */
export async function auditCommand(argv: string[], io: Omit<CommandIo, 'stdin'> = processIo()): Promise<number> {
  return runCommand('audit', io, () => run(argv, io));
}

/** The options each sub-command takes besides --config and --data. */
const OPTIONS_OF = { verify: [], export: ['from', 'to', 'out'] } as const satisfies Record<string, readonly string[]>;

async function run(argv: string[], io: Omit<CommandIo, 'stdin'>): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, { from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } });
  if (values.help) {
    io.stdout.write(AUDIT_USAGE);
    return 0;
  }
  const [, sub, ...extra] = positionals;
  if (sub !== 'verify' && sub !== 'export') throw new UsageError(sub === undefined ? 'which sub-command?' : `unknown sub-command '${sub}'`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const taken: readonly string[] = OPTIONS_OF[sub];
  for (const option of ['from', 'to', 'out'] as const) if (values[option] !== undefined && !taken.includes(option)) throw new UsageError(`'${sub}' takes no --${option}`);
  const from = parseTime(values.from, 'from');
  const to = parseTime(values.to, 'to');
  if (from !== undefined && to !== undefined && from >= to) throw new UsageError('--from must be before --to');

  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const file = existingCatalog(config.dataDir);
  const keyring = await Keyring.load({ dataDir: config.dataDir, env: io.env });
  if (keyring.active === undefined) {
    throw new CommandError('no master key (no key file in DATA/keys/ and no AEGIS_MASTER_KEY): the audit trail is signed with the master keys, run with the same keys as the gateway');
  }
  const catalog = await Catalog.openSqlite(file);
  try {
    if (sub === 'verify') return await verify(catalog, keyring, io);
    return await exportTrail(catalog, keyring, { from, to, out: values.out }, io);
  } finally {
    await catalog.close();
  }
}

async function verify(catalog: Catalog, keyring: Keyring, io: Omit<CommandIo, 'stdin'>): Promise<number> {
  const result = await verifyAuditTrail(catalog.db, keyring);
  if (result.ok) {
    io.stdout.write(`audit trail intact: ${result.records} records${result.head ? ` (head: record ${result.head.seq}, MAC ${result.head.mac})` : ''}\n`);
    return 0;
  }
  io.stdout.write(`audit trail BROKEN at record ${result.firstBroken.seq}: ${result.firstBroken.problem}\n${result.records} records before it verified intact\n`);
  return 1;
}

async function exportTrail(catalog: Catalog, keyring: Keyring, options: { from?: Date; to?: Date; out?: string }, io: Omit<CommandIo, 'stdin'>): Promise<number> {
  let out: Writable = io.stdout;
  if (options.out !== undefined) {
    const stream = createWriteStream(options.out, { mode: 0o600 });
    try {
      await once(stream, 'open'); // rejects with the stream's error
    } catch (error) {
      throw new CommandError(`cannot write ${options.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    out = stream;
  }
  let count = 0;
  for await (const message of exportAuditTrail(catalog.db, { sourceId: sourceId(), from: options.from, to: options.to })) {
    if (!out.write(`${JSON.stringify(message)}\n`)) await once(out, 'drain');
    count += 1;
  }
  if (out !== io.stdout) {
    out.end();
    await once(out, 'finish');
    io.stderr.write(`exported ${count} audit records to ${options.out}\n`);
  }
  await recordExport(catalog, keyring, count, options, io);
  return 0;
}

/** Records the export in the trail; a trail that cannot be written does not fail the export. */
async function recordExport(catalog: Catalog, keyring: Keyring, count: number, options: { from?: Date; to?: Date; out?: string }, io: Omit<CommandIo, 'stdin'>): Promise<void> {
  const say = (_details: Record<string, unknown>, message: string) => void io.stderr.write(`aegis audit: ${message}\n`);
  const trail = new AuditTrail(catalog.db, keyring, { error: say, warn: say });
  const range = [options.from && `from ${options.from.toISOString()}`, options.to && `to ${options.to.toISOString()}`].filter(Boolean).join(' ');
  try {
    await trail.recordNow({
      kind: 'admin',
      operation: 'audit-read',
      actor: { name: operatorName(), method: 'local' },
      action: 'admin',
      outcome: 'success',
      reason: `exported ${count} audit records${range ? ` ${range}` : ''} to ${options.out ?? 'standard output'}`,
    });
  } catch (error) {
    io.stderr.write(`aegis audit: warning: the export could not be recorded in the audit trail: ${(error as Error).message}\n`);
  } finally {
    await trail.close();
  }
}

/** An ISO 8601 date or date-time, or undefined when not given. */
function parseTime(value: string | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time.getTime())) throw new UsageError(`--${option}: '${value}' is not an ISO 8601 date or time (e.g. 2025-01-31 or 2025-01-31T08:00:00Z)`);
  return time;
}

/** AuditSourceID of this gateway: its host. */
function sourceId(): string {
  return `aegis@${hostname()}`;
}
