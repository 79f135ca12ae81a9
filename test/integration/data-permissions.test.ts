/**
 * The data directory holds the catalog (patient names and IDs, full metadata, password hashes,
 * the audit trail), the master keys and the fs stores: it is the owner's alone. A gateway started on
 * a new data directory creates every folder 0700 and every file 0600 whatever the umask, and one
 * started on a data directory or catalog that group or others may read refuses, saying how to fix it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startServer } from '../../gateway/cli/start.js';
import { loadConfig } from '../../gateway/config.js';
import { syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { stow } from '../support/dicomweb.js';
import { OPEN_ACCESS } from '../support/in-process.js';
import { createCatalog } from '../support/catalog-file.js';

const POSIX = process.platform !== 'win32';

/** Every path under `dir` (itself included) with its permission bits, as `path: mode` in octal. */
function modesUnder(dir: string): Map<string, { directory: boolean; mode: number }> {
  const modes = new Map([[dir, { directory: true, mode: statSync(dir).mode & 0o777 }]]);
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    modes.set(path, { directory: entry.isDirectory(), mode: statSync(path).mode & 0o777 });
  }
  return modes;
}

describe('permissions of the data directory', { skip: !POSIX && 'modes mean nothing on Windows' }, () => {
  it('a new data directory is created 0700 with every folder 0700 and every file 0600, under a permissive umask', async () => {
    const previous = process.umask(0o022); // what most shells have: files 0644 unless the gateway says otherwise
    const scratch = mkdtempSync(join(tmpdir(), 'aegis-modes-'));
    const dataDir = join(scratch, 'data');
    try {
      const config = loadConfig({ object: { log: { level: 'silent' }, ...OPEN_ACCESS, dataDir, server: { port: 0 }, auth: { ...OPEN_ACCESS.auth, bootstrapAdmin: true } } });
      const wrongModes = (modes: ReturnType<typeof modesUnder>) => [...modes].filter(([, { directory, mode }]) => mode !== (directory ? 0o700 : 0o600)).map(([path, { mode }]) => `${path.slice(dataDir.length) || '.'} ${mode.toString(8)}`);
      const running = await startServer(config, { print: () => undefined });
      try {
        const res = await stow(`${running.url}/dicom-web`, [syntheticInstance({ institutionName: 'CHU' })]);
        assert.equal(res.status, 200);
        // The WAL and shared-memory files exist while the catalog is open.
        const live = modesUnder(dataDir);
        for (const name of ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm', 'admin-password', 'keys', 'stores']) assert.ok(live.has(join(dataDir, name)), `${name} exists`);
        assert.ok(
          [...live].some(([path, { directory }]) => path.startsWith(join(dataDir, 'stores')) && !directory),
          'fragments were written',
        );
        assert.deepEqual(wrongModes(live), [], 'while running: every folder 0700 and every file 0600');
      } finally {
        await running.close();
      }
      assert.deepEqual(wrongModes(modesUnder(dataDir)), [], 'after the stop: every folder 0700 and every file 0600');
    } finally {
      process.umask(previous);
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('aegis start refuses a catalog, its WAL or a data directory that others may read, and says how to fix it', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegis-exposed-'));
    try {
      await createCatalog(dataDir);
      assert.equal(statSync(join(dataDir, 'catalog.sqlite')).mode & 0o777, 0o600, 'the catalog is created 0600');
      const start = () => runAegis(['start', '--port', '0', '--data', dataDir], { env: { AEGIS_LOG_LEVEL: 'info' } });

      const catalog = join(dataDir, 'catalog.sqlite');
      chmodSync(catalog, 0o644);
      let run = await start();
      assert.equal(run.status, 1, `refused with exit 1 (stderr: ${run.stderr})`);
      assert.match(run.stderr, new RegExp(`aegis start: refusing to start: ${catalog.replaceAll('/', '\\/')} has mode 644: group or others may access it.*run 'chmod 600 `));
      assert.doesNotMatch(run.stdout, /"msg":"listening"/);
      chmodSync(catalog, 0o600);

      for (const [path, mode, fix] of [
        [`${catalog}-wal`, 0o640, 'chmod 600'],
        [dataDir, 0o755, 'chmod 700'],
      ] as const) {
        if (path.endsWith('-wal')) {
          // A WAL file left by an earlier run with the catalog's old mode.
          await import('node:fs').then(({ writeFileSync }) => writeFileSync(path, ''));
        }
        chmodSync(path, mode);
        run = await start();
        assert.equal(run.status, 1, `${path} ${mode.toString(8)}: refused (stderr: ${run.stderr})`);
        assert.match(run.stderr, new RegExp(`refusing to start: ${path.replaceAll('/', '\\/')} has mode ${mode.toString(8)}.*run '${fix} `), `${path}: the fix is named`);
        chmodSync(path, path === dataDir ? 0o700 : 0o600);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
