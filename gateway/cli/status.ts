/**
 * `aegis status`: whether the gateway configured by `--config` could take writes now. It probes the
 * catalog and every configured backend itself (`services/readiness.ts`, the report of `GET
 * /readyz`), each bounded by `--timeout`, and prints per backend its kind, whether a write needs it,
 * its state, the latency of its check and the code of its failure: a table, or the JSON of /readyz
 * with `--json`. Works beside a running gateway (SQLite WAL); needs no master key. Exit codes: 0
 * ready, 1 not ready (or another failure), 2 usage.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import { createLogger } from '../logger.js';
import { backendsNeededToWrite, Readiness, type ReadinessReport } from '../services/readiness.js';
import { openStores } from './start.js';

/** Usage of `aegis status`. */
export const STATUS_USAGE = `usage: aegis status [--json] [--timeout SECONDS] [--config FILE] [--data DIR]

Probes the catalog and every configured backend, each for at most --timeout seconds (default 5),
and prints per backend: kind, whether a write needs it, state (ok, failing, breaker-open), the
latency of its check in ms and the code of its failure. --json prints the report of GET /readyz.
Exit code 0 when the catalog and every backend a write needs answer, 1 otherwise.
`;

/** Runs `aegis status`; resolves to the exit code. */
export async function statusCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('status', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' }, timeout: { type: 'string' } });
    if (values.help) {
      io.stdout.write(STATUS_USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const timeoutSeconds = values.timeout === undefined ? 5 : Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) throw new UsageError(`--timeout: '${values.timeout}' is not a number of seconds (0 < s <= 3600)`);
    const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
    // A folder without a catalog yet is reported not ready; a missing folder is a wrong --data,
    // and probing the fs stores would create it.
    if (!existsSync(config.dataDir)) throw new CommandError(`no data folder ${config.dataDir}: is --data right? 'aegis start' creates one`);
    const file = join(config.dataDir, 'catalog.sqlite');
    const catalog = existsSync(file) ? await Catalog.openSqlite(file) : undefined;
    // Silent: a log line on standard output would break --json.
    const stores = openStores(config, io.env, createLogger('silent'));
    try {
      const missing = { check: () => Promise.reject(new GatewayError('NOT_FOUND', 'no catalog')) };
      const readiness = new Readiness({ catalog: catalog ?? missing, stores, required: backendsNeededToWrite(config) }, { probeTimeoutMs: timeoutSeconds * 1000, cacheMs: 0 });
      const report = await readiness.report();
      io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
      return report.status === 'ready' ? 0 : 1;
    } catch (error) {
      throw error instanceof GatewayError ? new CommandError(error.message) : error;
    } finally {
      await Promise.all([catalog?.close(), ...[...stores.values()].map((s) => s.close().catch(() => undefined))]);
    }
  });
}

/** The human table of `aegis status`. */
export function formatStatus(report: ReadinessReport): string {
  const rows = [
    ['NAME', 'KIND', 'NEEDED', 'STATE', 'LATENCY', 'ERROR'],
    ['(catalog)', 'sqlite', 'yes', report.catalog.state, `${report.catalog.latencyMs} ms`, report.catalog.error ?? '-'],
    ...report.backends.map((b) => [b.name, b.kind, b.required ? 'yes' : 'no', b.state, b.latencyMs === null ? '-' : `${b.latencyMs} ms`, b.error ?? '-']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n\n${report.status === 'ready' ? 'ready' : 'NOT READY'} (checked ${report.checkedAt})\n`;
}
