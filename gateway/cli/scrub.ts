/**
 * `aegis scrub` and `aegis repair` (`services/admin/scrub.ts`): check every stored piece of every
 * protected instance (fragments, shards, manifest copies) against the signed manifests, and rebuild
 * the missing or corrupt shards from the others. A progress bar (instances, MB, rate, ETA) on a
 * terminal, then a summary per backend; `--json` for machines. Works beside a running gateway
 * (SQLite WAL). `aegis scrub --orphans` removes the pieces no catalog record references
 * (`services/admin/orphans.ts`). Exit codes: 0 all whole (scrub) or all repaired (repair), 1 something missing,
 * corrupt, unreachable or left unrepaired (or another failure), 2 usage.
 */
import cliProgress from 'cli-progress';
import { CommandError, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { openStores } from './start.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';
import { Keyring } from '../keys/keyring.js';
import { repair, scrub, type RepairReport, type ScrubOptions, type ScrubReport } from '../services/admin/scrub.js';
import { sweepOrphans, type OrphanReport } from '../services/admin/orphans.js';
import { createLogger } from '../logger.js';

const OPTIONS = `
options:
  --json          the report as JSON on stdout
  --rate MB       read at most this many MB (10^6 bytes) per second on average
  --config FILE   configuration file (env AEGIS_CONFIG)
  --data DIR      data directory (env AEGIS_DATA_DIR)
`;

/** Usage of `aegis scrub`. */
export const SCRUB_USAGE = `usage: aegis scrub [--json] [--rate MB] [--config FILE] [--data DIR]
       aegis scrub --orphans [--grace SECONDS] [--dry-run] [--json] [--config FILE] [--data DIR]

Reads every fragment and shard of every protected instance in the catalog and checks it against
the length and SHA-256 of its signed manifest, and that every manifest copy is there. Reports per
backend what is missing, corrupt or unreachable, and the instances that cannot be read. Exit code 0
when everything is whole, 1 otherwise. Needs the master keys that signed the manifests.

With --orphans: removes the pieces on the backends that can list theirs (fs, s3) that no catalog
record references (left by a store that was interrupted before its commit), once they have stayed
unreferenced for --grace seconds (default 600: an in-flight store's pieces are adopted by its
commit meanwhile). --dry-run only reports them. Exit code 0 unless a removal failed.
${OPTIONS}`;

/** Usage of `aegis repair`. */
export const REPAIR_USAGE = `usage: aegis repair [--json] [--rate MB] [--config FILE] [--data DIR]

Scrubs (see 'aegis scrub --help'), then rebuilds every missing or corrupt shard from the intact
shards of its fragment and writes it back; a new locator goes into the manifest (signed again) and
its copy. Fragments stored without redundancy cannot be rebuilt and are reported. Exit code 0 when
everything found was repaired, 1 otherwise.
${OPTIONS}`;

/** Runs `aegis scrub`; resolves to the exit code. */
export function scrubCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('scrub', io, () => run('scrub', argv, io));
}

/** Runs `aegis repair`; resolves to the exit code. */
export function repairCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('repair', io, () => run('repair', argv, io));
}

async function run(command: 'scrub' | 'repair', argv: string[], io: CommandIo): Promise<number> {
  const options = { json: { type: 'boolean' }, rate: { type: 'string' } } as const;
  const orphanOptions = { orphans: { type: 'boolean' }, grace: { type: 'string' }, 'dry-run': { type: 'boolean' } } as const;
  const parsed = parseCommandLine(argv, command === 'scrub' ? { ...options, ...orphanOptions } : options);
  const positionals = parsed.positionals;
  const values = parsed.values as typeof parsed.values & OrphanValues & { orphans?: boolean };
  if (values.help) {
    io.stdout.write(command === 'scrub' ? SCRUB_USAGE : REPAIR_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  if (values.orphans) return sweepCommand(values, io);
  if (values.grace !== undefined || values['dry-run']) throw new UsageError('--grace and --dry-run go with --orphans');
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new UsageError(`--rate takes a positive number of MB per second, not '${values.rate}'`);
  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const file = existingCatalog(config.dataDir);
  const keyring = await Keyring.load({ dataDir: config.dataDir, env: io.env });
  if (keyring.keys.length === 0) throw new CommandError('no master key (DATA/keys/ or AEGIS_MASTER_KEY): the manifests cannot be verified');
  const catalog = await Catalog.openSqlite(file);
  // Backend warnings (a circuit breaker opening) go to stderr: stdout holds the report.
  const stores = openStores(config, io.env, createLogger('warn', io.stderr));
  const bar = await progressBar(io, catalog);
  try {
    const options: ScrubOptions = { bytesPerSecond: rate === undefined ? undefined : rate * 1e6, concurrency: config.placement.concurrency, onProgress: bar?.update };
    const report = command === 'scrub' ? await scrub({ catalog, stores, keyring }, options) : await repair({ catalog, stores, keyring }, options);
    bar?.stop();
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    if (command === 'repair') return (report as RepairReport).unrepaired.length === 0 && report.unreadable.length === 0 ? 0 : 1;
    return report.faults.length === 0 && report.unreadable.length === 0 ? 0 : 1;
  } finally {
    bar?.stop();
    await catalog.close();
    await Promise.all([...stores.values()].map((s) => s.close()));
  }
}

type OrphanValues = { json?: boolean; grace?: string; 'dry-run'?: boolean; config?: string; data?: string };

/** `aegis scrub --orphans`: the orphan sweep (`services/admin/orphans.ts`) and its report. */
async function sweepCommand(values: OrphanValues, io: CommandIo): Promise<number> {
  const grace = values.grace === undefined ? 600 : Number(values.grace);
  if (!(Number.isFinite(grace) && grace >= 0)) throw new UsageError(`--grace takes a number of seconds, not '${values.grace}'`);
  const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
  const catalog = await Catalog.openSqlite(existingCatalog(config.dataDir));
  const stores = openStores(config, io.env, createLogger('warn', io.stderr));
  try {
    const report = await sweepOrphans({ catalog, stores }, { graceMs: grace * 1000, dryRun: values['dry-run'] });
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatOrphans(report, values['dry-run'] === true));
    return Object.values(report.backends).every((b) => b.failed.length === 0) ? 0 : 1;
  } finally {
    await catalog.close();
    await Promise.all([...stores.values()].map((s) => s.close()));
  }
}

/** The human summary of an orphan sweep, one line per backend. */
export function formatOrphans(report: OrphanReport, dryRun: boolean): string {
  const lines = Object.entries(report.backends).map(
    ([name, b]) =>
      `backend ${name}: ${b.listed} pieces, ${b.unreferenced} unreferenced, ${b.adopted} committed meanwhile, ${dryRun ? 'none removed (dry run)' : `${b.removed} removed`}${b.failed.length ? `, ${b.failed.length} not removed` : ''}`,
  );
  for (const [name, b] of Object.entries(report.backends)) for (const f of b.failed) lines.push(`  not removed: ${f.locator} on ${name}: ${f.reason}`);
  for (const name of report.unlistable) lines.push(`backend ${name}: cannot list its pieces, not swept`);
  return `${lines.join('\n')}\n`;
}

/** A progress bar on stderr when it is a terminal: instances done of all, MB read, rate, ETA. */
async function progressBar(io: CommandIo, catalog: Catalog): Promise<{ update: ScrubOptions['onProgress']; stop(): void } | undefined> {
  if (!(io.stderr as { isTTY?: boolean }).isTTY) return undefined;
  let total = 0;
  for await (const _ of catalog.manifests()) total++;
  const bar = new cliProgress.SingleBar(
    { stream: io.stderr as NodeJS.WriteStream, format: '{bar} {value}/{total} instances | {mb} MB | {rate} MB/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  bar.start(total, 0, { mb: '0.0', rate: '0.0' });
  let stopped = false;
  return {
    update: ({ instances, bytes }) => bar.update(instances, { mb: (bytes / 1e6).toFixed(1), rate: (bytes / 1e6 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1) }),
    stop: () => {
      if (!stopped) bar.stop();
      stopped = true;
    },
  };
}

/** The human summary: totals, then per backend, then each fault and what repair did. */
export function formatReport(report: ScrubReport | RepairReport): string {
  const lines = [`${report.instances} instances, ${report.pieces} pieces read, ${(report.bytes / 1e6).toFixed(1)} MB checked`];
  for (const [name, b] of Object.entries(report.backends)) {
    const bad = b.missing + b.corrupt + b.unavailable;
    lines.push(`  backend ${name}: ${b.pieces} pieces, ${(b.bytes / 1e6).toFixed(1)} MB, ${bad === 0 ? 'whole' : `${b.missing} missing, ${b.corrupt} corrupt, ${b.unavailable} unreachable`}`);
  }
  for (const f of report.faults) lines.push(`  ${f.problem}: instance ${f.sopInstanceUid} ${f.fragment}${f.shard === undefined ? '' : ` shard ${f.shard}`} on ${f.backend}: ${f.detail}`);
  for (const u of report.unreadable) lines.push(`  unreadable: instance ${u.sopInstanceUid}: ${u.reason}`);
  if ('repaired' in report) {
    lines.push(`repaired ${report.repaired.length} pieces, ${report.unrepaired.length} left`);
    for (const u of report.unrepaired) lines.push(`  not repaired: instance ${u.sopInstanceUid} ${u.fragment}${u.shard === undefined ? '' : ` shard ${u.shard}`} on ${u.backend}: ${u.reason}`);
  } else lines.push(report.faults.length === 0 && report.unreadable.length === 0 ? 'everything is whole' : `${report.faults.length} faults: run aegis repair`);
  return `${lines.join('\n')}\n`;
}
