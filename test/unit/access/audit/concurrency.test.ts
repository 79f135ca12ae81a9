/**
 * Two processes append to the audit trail of one SQLite catalog at the same time (as gateway
 * workers and the CLI do): BEGIN IMMEDIATE serializes their read-head-append-write-head
 * transactions, so the 1000 records form one intact chain with no seq lost or repeated.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import type { Catalog } from '../../../../gateway/catalog/catalog.js';
import type { StoredAuditEvent } from '../../../../gateway/access/audit/event.js';
import { verifyAuditTrail } from '../../../../gateway/access/audit/verify.js';
import { createKeyFile, keyDirectory } from '../../../../gateway/keys/key-directory.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { temporaryCatalog } from '../../../support/audit.js';

const APPENDER = fileURLToPath(new URL('../../../support/audit-append.ts', import.meta.url));
const PER_PROCESS = 500;

interface AppenderRun {
  /** Resolves when the appender has opened the catalog and waits for the go file. */
  ready: Promise<void>;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** Starts an appender (killed after 60 s). */
function appender(file: string, dataDir: string, label: string, goFile: string): AppenderRun {
  let stdout = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', APPENDER, file, dataDir, String(PER_PROCESS), label, goFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d.toString();
      if (stdout.startsWith('ready\n')) markReady();
    });
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      markReady(); // a failed appender never says ready: do not wait for it
      resolve({ status, stdout: stdout.replace(/^ready\n/, ''), stderr });
    });
  });
  return { ready, done };
}

let dir: string;
let file: string;
let catalog: Catalog;
let remove: () => Promise<void>;

before(async () => {
  // The catalog is created (migrated) here first: the appenders open an up-to-date schema.
  ({ dir, file, catalog, remove } = await temporaryCatalog('aegis-audit-concurrency-'));
  await createKeyFile(keyDirectory(dir), { development: false });
});
after(() => remove());

it('two processes appending 500 events each at once leave one intact chain of 1000 records', async () => {
  const goFile = join(dir, 'go');
  const appenders = [appender(file, dir, 'a', goFile), appender(file, dir, 'b', goFile)];
  await Promise.all(appenders.map((a) => a.ready));
  writeFileSync(goFile, '');
  const runs = await Promise.all(appenders.map((a) => a.done));
  for (const [i, run] of runs.entries()) {
    assert.equal(run.status, 0, `appender ${i} exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    assert.deepEqual(JSON.parse(run.stdout), { label: i === 0 ? 'a' : 'b', pending: 0, dropped: 0, errors: [] });
  }
  const keyring = await Keyring.load({ dataDir: dir, env: {} });
  const result = await verifyAuditTrail(catalog.db, keyring);
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.records, 2 * PER_PROCESS);
  const rows = await catalog.db.selectFrom('audit_events').select(['seq', 'event']).orderBy('seq').execute();
  assert.deepEqual(
    rows.map((r) => r.seq),
    Array.from({ length: 2 * PER_PROCESS }, (_, i) => i + 1),
  );
  const ids = rows.map((r) => (JSON.parse(r.event) as StoredAuditEvent).requestId!);
  assert.equal(new Set(ids).size, 2 * PER_PROCESS, 'every event once');
  for (const label of ['a', 'b']) {
    const own = ids.filter((id) => id.startsWith(`${label}-`)).map((id) => Number(id.slice(2)));
    assert.deepEqual(
      own,
      Array.from({ length: PER_PROCESS }, (_, i) => i + 1),
      `process ${label}'s events in its own order`,
    );
  }
  const firstB = ids.findIndex((id) => id.startsWith('b-'));
  const lastA = ids.findLastIndex((id) => id.startsWith('a-'));
  assert.ok(firstB < lastA, 'the two processes interleaved (otherwise nothing was concurrent)');
});
