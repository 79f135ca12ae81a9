/**
 * `aegis migrate`: moves studies of the upstream PACS (the `upstream` configuration) into protected
 * storage, verifies each instance byte-identical against the upstream's copy, records the progress
 * in the catalog so that an interrupted run resumes, and deletes the upstream copy after
 * verification only when asked (`services/proxy/migrate.ts`). A progress bar (instances, MB, rate,
 * ETA) on a terminal, plain progress lines otherwise. Works beside a running gateway (SQLite WAL).
 * Every instance stored, every upstream copy deleted and every failure is recorded in the audit trail
 * (kind `admin`, operation `migrate`, the operator as actor) before the run moves on; a trail that
 * cannot be written stops the run. The run's start and end are recorded too.
 * Exit codes: 0 every selected instance migrated, 1 some failed (listed) or another failure, 2 usage.
 */
import cliProgress from 'cli-progress';
import { CommandError, operatorName, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { openStores, openUpstream } from './start.js';
import { AuditTrail } from '../access/audit/trail.js';
import type { AuditEvent } from '../access/audit/event.js';
import { Catalog } from '../catalog/catalog.js';
import { ShredKeyVault, shredKeyVaultFile } from '../catalog/shred-key-vault.js';
import { loadConfig } from '../config.js';
import { Keyring } from '../keys/keyring.js';
import { createLogger } from '../logger.js';
import { protectionSettings } from '../services/protected-fragments.js';
import { migrateFromUpstream, type MigrationEvent, type MigrationProgress, type MigrationReport, type MigrationSelection } from '../services/proxy/migrate.js';
import { existingCatalog, prepareDataDirectory } from './data-directory.js';

/** Usage of `aegis migrate`. */
export const MIGRATE_USAGE = `usage: aegis migrate (--study UID ... | --since DATE --until DATE | --all) [--delete-upstream] [--config FILE] [--data DIR]

Pulls studies from the upstream PACS of the configuration (upstream.url), stores every instance
protected through the same ingest as STOW-RS, reads it back and checks it byte-identical (SHA-256)
against the upstream's copy. Progress is recorded in the catalog: run it again after an
interruption and it resumes, fetching nothing twice. Exit code 0 when every instance was migrated.

options:
  --study UID        a study to migrate (repeat for several)
  --since DATE       studies from this study date (YYYYMMDD or YYYY-MM-DD), inclusive
  --until DATE       studies up to this study date, inclusive
  --all              every study of the upstream
  --delete-upstream  delete each instance from the upstream once verified (Orthanc: its REST API
                     when upstream.orthancUrl is set; otherwise DICOMweb DELETE)
  --config FILE      configuration file (env AEGIS_CONFIG)
  --data DIR         data directory (env AEGIS_DATA_DIR)
`;

/** Runs `aegis migrate`; resolves to the exit code. */
export function migrateCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('migrate', io, () => run(argv, io));
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    study: { type: 'string', multiple: true },
    since: { type: 'string' },
    until: { type: 'string' },
    all: { type: 'boolean' },
    'delete-upstream': { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(MIGRATE_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const selection = selectionOf(values);
  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const file = existingCatalog(config.dataDir);
  if (config.upstream === undefined) throw new CommandError('no upstream in the configuration: set upstream.url to the DICOMweb root of the PACS to migrate from');
  prepareDataDirectory(config.dataDir);
  const loaded = await Keyring.load({ dataDir: config.dataDir, env: io.env });
  if (loaded.keys.length === 0) throw new CommandError('no master key (DATA/keys/ or AEGIS_MASTER_KEY): instances cannot be stored protected');
  const shredKeys = ShredKeyVault.open(shredKeyVaultFile(config.dataDir));
  const keyring = loaded.useShredKeys(shredKeys);
  const logger = createLogger('warn', io.stderr);
  const catalog = await Catalog.openSqlite(file);
  const stores = openStores(config, io.env, logger);
  const upstream = openUpstream(config.upstream, io.env);
  const progress = progressReporter(io);
  const audit = new AuditTrail(catalog.db, keyring, logger);
  const actor = { name: operatorName(), method: 'local' as const };
  const from = `the upstream ${config.upstream.url}`;
  try {
    await audit.recordNow({ kind: 'admin', operation: 'migrate', actor, action: 'admin', outcome: 'success', reason: `migration from ${from} started: ${describeSelection(selection)}` });
    const report = await migrateFromUpstream(
      {
        catalog,
        stores,
        keyring,
        logger,
        upstream,
        ...protectionSettings(config),
        onConflict: 'reject',
        maxInflatedBytes: config.limits.maxInflatedBytes,
        maxInstanceBytes: config.limits.maxPartBytes,
        // An operator's command on the gateway's own data: the access policy is for requests.
        authorize: async () => undefined,
      },
      { selection, deleteUpstream: values['delete-upstream'] === true, onProgress: progress.update, record: (event) => audit.recordNow(migrationAudit(event, actor)) },
    );
    progress.stop();
    await audit.recordNow({ kind: 'admin', operation: 'migrate', actor, action: 'admin', outcome: report.failures.length === 0 ? 'success' : 'failure', reason: `migration from ${from} ended: ${summary(report)}` });
    io.stdout.write(formatReport(report));
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    progress.stop();
    await audit.close();
    await upstream.close();
    await catalog.close();
    shredKeys.close();
    await Promise.all([...stores.values()].map((s) => s.close()));
  }
}

/** The audit event of one instance's migration step. */
function migrationAudit({ instance, action, outcome, reason }: MigrationEvent, actor: AuditEvent['actor']): AuditEvent {
  return { kind: 'admin', operation: 'migrate', actor, action, outcome, reason, resources: [{ study: instance.study, series: instance.series, instance: instance.sop }] };
}

function describeSelection(selection: MigrationSelection): string {
  if ('studies' in selection) return `${selection.studies.length} studies named`;
  if ('all' in selection) return 'every study';
  return `studies dated ${selection.since ?? 'any time'} to ${selection.until ?? 'now'}`;
}

function summary(report: MigrationReport): string {
  return `${report.migrated} instances migrated, ${report.resumed} already done, ${report.deleted} deleted upstream, ${report.failures.length} failed`;
}

/** The studies selected by the command line: exactly one of --study, --since/--until, --all. */
function selectionOf(values: { study?: string[]; since?: string; until?: string; all?: boolean }): MigrationSelection {
  const ways = [values.study !== undefined, values.since !== undefined || values.until !== undefined, values.all === true].filter(Boolean).length;
  if (ways !== 1) throw new UsageError('choose the studies with exactly one of --study UID, --since/--until DATE, --all');
  if (values.study !== undefined) {
    for (const uid of values.study) if (!/^[0-9]+(\.[0-9]+)*$/.test(uid) || uid.length > 64) throw new UsageError(`--study '${uid}' is not a UID`);
    return { studies: values.study };
  }
  if (values.all) return { all: true };
  return { since: dateOf(values.since, '--since'), until: dateOf(values.until, '--until') };
}

function dateOf(text: string | undefined, option: string): string | undefined {
  if (text === undefined) return undefined;
  const compact = text.replaceAll('-', '');
  if (!/^\d{8}$/.test(compact)) throw new UsageError(`${option} takes a date YYYYMMDD or YYYY-MM-DD, not '${text}'`);
  return compact;
}

/** A progress bar on a terminal (instances, MB, rate, ETA), else a plain line every 5 % (and at the end). */
function progressReporter(io: CommandIo): { update(progress: MigrationProgress): void; stop(): void } {
  const started = Date.now();
  const rate = (bytes: number) => (bytes / 1e6 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1);
  if ((io.stderr as { isTTY?: boolean }).isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: io.stderr as NodeJS.WriteStream, format: '{bar} {value}/{total} instances | {mb} MB | {rate} MB/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    let running = false;
    return {
      update: ({ total, done, bytes }) => {
        if (!running) bar.start(total, 0, { mb: '0.0', rate: '0.0' });
        running = true;
        bar.update(done, { mb: (bytes / 1e6).toFixed(1), rate: rate(bytes) });
      },
      stop: () => {
        if (running) bar.stop();
        running = false;
      },
    };
  }
  let lastStep = -1;
  return {
    update: ({ total, done, bytes }) => {
      const step = total === 0 ? 20 : Math.floor((done / total) * 20);
      if (step === lastStep && done !== total) return;
      lastStep = step;
      const eta = done === 0 ? '?' : `${Math.round((((Date.now() - started) / done) * (total - done)) / 1000)} s`;
      io.stderr.write(`migrate: ${done}/${total} instances, ${(bytes / 1e6).toFixed(1)} MB, ${rate(bytes)} MB/s, ETA ${eta}\n`);
    },
    stop: () => undefined,
  };
}

/** The human summary of a run. */
function formatReport(report: MigrationReport): string {
  const lines = [
    `${report.studies} studies, ${report.instances} instances: ${report.migrated} migrated and verified now, ${report.resumed} already migrated, ${report.deleted} deleted from the upstream, ${(report.bytes / 1e6).toFixed(1)} MB`,
  ];
  for (const f of report.failures) lines.push(`  failed: instance ${f.sopInstanceUid}: ${f.reason}`);
  if (report.failures.length > 0) lines.push(`${report.failures.length} instances not migrated: run aegis migrate again once the reason is fixed`);
  return `${lines.join('\n')}\n`;
}
