/** The JSON result files of the benchmarks, in bench/results/ (git-ignored). */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Writes `bench/results/<prefix><startedAt>.json`: when, how long, Node and the host, then `body`.
 * Resolves to the file's path.
 */
export async function writeResults(prefix: string, startedAt: Date, finishedAt: Date, body: Record<string, unknown>): Promise<string> {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = `${dir}${prefix}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const header = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    node: process.version,
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMB: Math.round(totalmem() / 1e6) },
  };
  await writeFile(file, JSON.stringify({ ...header, ...body }, null, 2));
  return file;
}
