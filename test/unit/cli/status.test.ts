/**
 * `aegis status` in this process: the table and the JSON of the readiness report, exit 0 when the
 * catalog and the backends a write needs answer, 1 when not (no catalog yet, a needed backend whose
 * folder cannot be written), 2 for a bad `--timeout`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { prepareDataDirectory } from '../../../gateway/cli/data-directory.js';
import { statusCommand } from '../../../gateway/cli/status.js';

/** Runs `aegis status ARGS`; resolves to the exit code and what it wrote. */
async function status(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (d: Buffer) => out.push(d.toString()));
  stderr.on('data', (d: Buffer) => err.push(d.toString()));
  const code = await statusCommand(['status', ...args], { stdin: new PassThrough(), stdout, stderr, env: {} });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('aegis status', () => {
  let dataDir: string;
  let configFile: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aegis-status-'));
    configFile = join(dataDir, 'config.json');
    // `spare` is a file where its folder would be: it fails, but no write needs it.
    await writeFile(join(dataDir, 'not-a-folder'), 'x');
    await writeFile(
      configFile,
      JSON.stringify({
        backends: [
          { name: 'local', kind: 'fs' },
          { name: 'spare', kind: 'fs', path: join(dataDir, 'not-a-folder', 'store') },
        ],
        placement: { instances: 'local' },
      }),
    );
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is not ready without a catalog, and says so with exit code 1', async () => {
    const run = await status(['--json', '--config', configFile, '--data', dataDir]);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as { status: string; catalog: { state: string; error: string } };
    assert.deepEqual([report.status, report.catalog.state, report.catalog.error], ['unavailable', 'failing', 'NOT_FOUND']);
  });

  it('is ready when the catalog and the backends a write needs answer: a table, or the JSON of /readyz', async () => {
    prepareDataDirectory(dataDir);
    await (await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'))).close();
    const json = await status(['--json', '--config', configFile, '--data', dataDir]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { status: string; backends: Array<{ name: string; kind: string; required: boolean; state: string; error: string | null }>; checks: Record<string, string> };
    assert.equal(report.status, 'ready');
    assert.deepEqual(
      report.backends.map((b) => [b.name, b.kind, b.required, b.state, b.error]),
      [
        ['local', 'fs', true, 'ok', null],
        ['spare', 'fs', false, 'failing', 'BACKEND_UNAVAILABLE'],
      ],
    );
    assert.doesNotMatch(json.stdout, /not-a-folder/, 'no internal path');
    const table = await status(['--config', configFile, '--data', dataDir]);
    assert.equal(table.code, 0);
    const lines = table.stdout.split('\n');
    assert.match(lines[0], /^NAME\s+KIND\s+NEEDED\s+STATE\s+LATENCY\s+ERROR$/);
    assert.match(lines[1], /^\(catalog\)\s+sqlite\s+yes\s+ok\s+\d+ ms\s+-$/);
    assert.match(lines[2], /^local\s+fs\s+yes\s+ok\s+\d+ ms\s+-$/);
    assert.match(lines[3], /^spare\s+fs\s+no\s+failing\s+\d+ ms\s+BACKEND_UNAVAILABLE$/);
    assert.match(table.stdout, /\nready \(checked /);
  });

  it('refuses a bad --timeout with exit code 2', async () => {
    for (const timeout of ['0', '-1', 'soon', '9999']) {
      const run = await status(['--timeout', timeout, '--config', configFile, '--data', dataDir]);
      assert.equal(run.code, 2, timeout);
      assert.match(run.stderr, /--timeout/);
    }
  });
});
