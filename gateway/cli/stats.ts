/**
 * `aegis stats`: how the catalog's instances are protected and what they cost in storage
 * (`services/admin/stats.ts`), as a table or JSON. Reads the catalog only (no master key, no backend);
 * works beside a running gateway (SQLite WAL). Exit codes: 0 done, 1 no catalog or another
 * failure, 2 usage.
 */
import { parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { existingCatalog } from './data-directory.js';
import { Catalog } from '../catalog/catalog.js';
import { loadConfig } from '../config.js';
import { protectionStats, type ProtectionStats, type ReasonCounts } from '../services/admin/stats.js';

/** Usage of `aegis stats`. */
export const STATS_USAGE = `usage: aegis stats [--json] [--config FILE] [--data DIR]

Counts the catalog's instances by protection (mode; pixels segmented, striped, none or opaque;
watermarked or manifest-only; identity split or opaque; each with the reasons) and the bytes
received and stored per backend (fragments, manifest copies, unprotected instances), with the
storage overhead ratio, and the fragments of deleted instances awaiting physical removal (deletes
that failed and are retried, deletes a store makes only best-effort). The same JSON as GET /admin/stats.
`;

/** Runs `aegis stats`; resolves to the exit code. */
export async function statsCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  return runCommand('stats', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { json: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(STATS_USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const config = loadConfig({ file: values.config, env: io.env, flags: { dataDir: values.data } });
    const file = existingCatalog(config.dataDir);
    const catalog = await Catalog.openSqlite(file);
    try {
      const stats = await protectionStats(catalog, { backends: config.backends.map((b) => b.name) });
      io.stdout.write(values.json ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
      return 0;
    } finally {
      await catalog.close();
    }
  });
}

/** The human table of `aegis stats`. */
export function formatStats(stats: ProtectionStats): string {
  const lines: string[] = [];
  const row = (label: string, value: string | number, depth = 0) => lines.push(`${'  '.repeat(depth)}${label.padEnd(30 - 2 * depth)} ${String(value).padStart(14)}`);
  const withReasons = (label: string, c: ReasonCounts, depth = 1) => {
    row(label, c.count, depth);
    for (const [reason, n] of Object.entries(c.reasons).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) row(reason, n, depth + 1);
  };
  row('instances', stats.instances);
  row('protected', stats.protected, 1);
  row('unprotected', stats.unprotected, 1);
  if (stats.unreadable > 0) row('unreadable manifests', stats.unreadable, 1);
  lines.push('mode');
  row('hardened', stats.mode.hardened, 1);
  row('paper', stats.mode.paper, 1);
  lines.push('pixels');
  for (const [kind, c] of Object.entries(stats.pixels)) withReasons(kind, c);
  lines.push('watermark');
  row('watermarked', stats.watermark.watermarked, 1);
  withReasons('manifest-only', stats.watermark.manifestOnly);
  lines.push('identity');
  row('split', stats.identity.split, 1);
  withReasons('opaque', stats.identity.opaque);
  lines.push('bytes');
  row('received', stats.bytes.received, 1);
  row('stored', stats.bytes.stored, 1);
  for (const [name, b] of Object.entries(stats.bytes.backends)) {
    row(`backend ${name}`, b.bytes, 1);
    row(`fragments (${b.fragments} in ${b.objects} objects)`, b.fragmentBytes, 2);
    row(`manifest copies (${b.manifestCopies})`, b.manifestCopyBytes, 2);
    if (b.unprotectedInstances > 0) row(`unprotected (${b.unprotectedInstances})`, b.unprotectedBytes, 2);
  }
  row('overhead ratio', stats.bytes.overheadRatio === null ? '-' : stats.bytes.overheadRatio.toFixed(4), 1);
  const removal = stats.awaitingRemoval;
  row('fragments awaiting physical removal', removal.total);
  for (const [name, b] of Object.entries(removal.backends)) {
    if (b.failed > 0) row(`${name}: delete failed, retried`, b.failed, 1);
    if (b.bestEffort > 0) row(`${name}: deleted best-effort`, b.bestEffort, 1);
  }
  return `${lines.join('\n')}\n`;
}
