/**
 * Backup and restore, as an operator runs them: `aegis backup` while STOW load runs against a real
 * gateway, `aegis restore` into a fresh data folder, a gateway started on it with the same fs store:
 * every instance acknowledged before the backup began is byte-identical (WADO transfer-syntax=*),
 * every instance the restored catalog lists is whole, QIDO answers as the original did, and the
 * audit chain verifies. A backup altered after it was taken (a byte of the catalog, a planted key
 * file, a forged audit record with the manifest rewritten to match) is refused, and nothing is
 * restored; neither command overwrites anything.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { retrieveAsStored, stow } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { openSqlite } from '../../gateway/catalog/sqlite.js';
import { backupCommand, restoreCommand } from '../../gateway/cli/backup.js';

interface Sent {
  study: string;
  series: string;
  sop: string;
  bytes: Buffer;
}

function instance(study: string, seed: number): Sent {
  const series = newUid();
  const sop = newUid();
  return { study, series, sop, bytes: syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, seed, rows: 24, columns: 20 }) };
}

/**
 * Runs a command's own code in this process (refusals, where a process per case would only cost
 * time); `env` over the test's environment.
 */
async function inProcess(command: typeof backupCommand, args: string[], env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const sink = (key: keyof typeof out) => new Writable({ write: (chunk, _encoding, done) => ((out[key] += String(chunk)), done()) });
  const status = await command(args, { stdout: sink('stdout'), stderr: sink('stderr'), env: { ...process.env, ...env } });
  return { status, ...out };
}

const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('aegis backup and restore', { timeout: 300_000 }, () => {
  let work: string;
  let original: RunningGateway;
  let backup: string;
  const acknowledged = new Map<string, Sent>();
  const beforeBackup: Sent[] = [];
  let originalQido: { studies: unknown; instances: unknown };
  let duringBackup = 0;
  let stored = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'aegis-backup-'));
    backup = join(work, 'backup');
    original = await startGateway({ keepData: true, config: { server: { workers: 1 } } });
    const studies = [newUid(), newUid(), newUid()];
    for (let i = 0; i < 9; i++) {
      const sent = instance(studies[i % 3], i);
      const res = await stow(original.dicomWebUrl, [sent.bytes]);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      acknowledged.set(sent.sop, sent);
      beforeBackup.push(sent);
    }
    const uids = studies.join(',');
    originalQido = {
      studies: await (await fetch(`${original.dicomWebUrl}/studies?StudyInstanceUID=${uids}&includefield=all`)).json(),
      instances: await (await fetch(`${original.dicomWebUrl}/instances?StudyInstanceUID=${uids}&includefield=all`)).json(),
    };

    // STOW load, two clients, each instance in a study of its own, while the backup runs.
    let loading = true;
    let backupRunning = false;
    const client = async (seed: number) => {
      while (loading) {
        const sent = instance(newUid(), seed++);
        const res = await stow(original.dicomWebUrl, [sent.bytes]);
        assert.equal(res.status, 200, JSON.stringify(res.json));
        acknowledged.set(sent.sop, sent);
        stored++;
        if (backupRunning) duringBackup++;
      }
    };
    const clients = [client(1000), client(2000)];
    while (stored < 4) await new Promise((resolve) => setTimeout(resolve, 20));
    backupRunning = true;
    const run = await runAegis(['backup', backup, '--data', original.dataDir], { timeoutMs: 60_000 });
    backupRunning = false;
    loading = false;
    await Promise.all(clients);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^backup written to ${backup} and checked: SQLite integrity, schema 0013-pending-deletions, audit trail of \\d+ records intact\n`));
    assert.match(run.stdout, /\n  - the fragments in backend 'local' \(fs, .*\/stores\/local\): sealed there; the catalog and the master keys make them readable\n/);
    await original.stop();
  });

  after(async () => {
    await original?.stop();
    await rm(original.dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('writes an owner-only backup whose manifest lists every file with its SHA-256', async (t) => {
    assert.ok(duringBackup > 0, `STOWs were acknowledged while the backup ran (${duringBackup} of ${stored})`);
    const manifest = JSON.parse(await readFile(join(backup, 'backup.json'), 'utf8'));
    t.diagnostic(`${beforeBackup.length} instances before the backup, ${stored} under load (${duringBackup} acknowledged while it ran); ${manifest.instances} in the backup`);
    assert.deepEqual(
      manifest.files.map((f: { path: string }) => f.path),
      ['catalog.sqlite', 'shred-keys.sqlite', 'keys/k1.key'],
    );
    for (const file of manifest.files) {
      const bytes = await readFile(join(backup, file.path));
      assert.equal(file.sha256, sha256(bytes), file.path);
      assert.equal(file.bytes, bytes.length, file.path);
      assert.equal(await mode(join(backup, file.path)), '600', file.path);
    }
    assert.equal(await mode(backup), '700');
    assert.equal(await mode(join(backup, 'keys')), '700');
    assert.equal(await mode(join(backup, 'backup.json')), '600');
    assert.deepEqual(manifest.masterKeys, [{ id: 'k1', inBackup: true }]);
    assert.equal(manifest.schema, '0013-pending-deletions');
    assert.ok(manifest.instances >= beforeBackup.length && manifest.instances <= acknowledged.size, `${manifest.instances} instances`);
    assert.deepEqual((await readdir(backup)).sort(), ['backup.json', 'catalog.sqlite', 'keys', 'shred-keys.sqlite']);
  });

  it('refuses to back up into a folder that is not empty, or a data folder without a catalog (creating none)', async () => {
    const run = await inProcess(backupCommand, ['backup', backup, '--data', original.dataDir]);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `aegis backup: ${backup} is not empty: a backup goes into a new or empty folder, and nothing is overwritten\n`);
    const empty = join(work, 'no-catalog');
    const none = await inProcess(backupCommand, ['backup', join(work, 'unused'), '--data', empty], { AEGIS_MASTER_KEY: randomBytes(32).toString('base64'), AEGIS_MASTER_KEY_ID: 'k-test' });
    assert.equal(none.status, 1);
    assert.equal(none.stderr, `aegis backup: no catalog at ${join(empty, 'catalog.sqlite')}: nothing to back up (check --data or AEGIS_DATA_DIR)\n`);
    assert.deepEqual(await readdir(work).then((names) => names.filter((n) => n === 'unused' || n === 'no-catalog')), [], 'neither folder created');
  });

  it('restores into a fresh folder: every instance byte-identical, QIDO identical, audit chain intact', { timeout: 120_000 }, async () => {
    const dataDir = join(work, 'restored');
    const run = await runAegis(['restore', backup, '--data', dataDir]);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^restored the backup of \\S+ \\(Aegis 0\\.1\\.0, schema 0013-pending-deletions, \\d+ instances\\) into ${dataDir}\n`));
    assert.equal(await mode(dataDir), '700');
    for (const path of ['catalog.sqlite', 'shred-keys.sqlite', 'keys/k1.key']) assert.equal(await mode(join(dataDir, path)), '600', path);

    const restored = await startGateway({ dataDir, keepData: true, config: { server: { workers: 1 }, backends: [{ name: 'local', kind: 'fs', path: join(original.dataDir, 'stores', 'local') }] } });
    try {
      for (const sent of beforeBackup) {
        const parts = await retrieveAsStored(`${restored.dicomWebUrl}/studies/${sent.study}/series/${sent.series}/instances/${sent.sop}`);
        assert.equal(parts.length, 1);
        assert.ok(parts[0].bytes.equals(sent.bytes), `${sent.sop} byte-identical`);
      }
      const uids = [...new Set(beforeBackup.map((s) => s.study))].join(',');
      const studies = await (await fetch(`${restored.dicomWebUrl}/studies?StudyInstanceUID=${uids}&includefield=all`)).json();
      const instances = await (await fetch(`${restored.dicomWebUrl}/instances?StudyInstanceUID=${uids}&includefield=all`)).json();
      const rebase = (json: unknown) => JSON.parse(JSON.stringify(json).replaceAll(original.url, restored.url));
      assert.deepEqual(studies, rebase(originalQido.studies), 'QIDO studies as the original answered');
      assert.deepEqual(instances, rebase(originalQido.instances), 'QIDO instances as the original answered');

      // Every instance of the restored catalog, load included, was acknowledged and is whole.
      const all = (await (await fetch(`${restored.dicomWebUrl}/instances?limit=1000`)).json()) as Array<Record<string, { Value: string[] }>>;
      const manifest = JSON.parse(await readFile(join(work, 'backup', 'backup.json'), 'utf8'));
      assert.equal(all.length, manifest.instances);
      for (const row of all) {
        const sent = acknowledged.get(row['00080018'].Value[0]);
        assert.ok(sent, `${row['00080018'].Value[0]} was acknowledged`);
        const parts = await retrieveAsStored(`${restored.dicomWebUrl}/studies/${sent.study}/series/${sent.series}/instances/${sent.sop}`);
        assert.ok(parts[0].bytes.equals(sent.bytes), `${sent.sop} byte-identical`);
      }
    } finally {
      await restored.stop();
    }
    const verify = await runAegis(['audit', 'verify', '--data', dataDir]);
    assert.equal(verify.status, 0, `${verify.stdout}\n${verify.stderr}`);
    assert.match(verify.stdout, /^audit trail intact: \d+ records/);

    const again = await runAegis(['restore', backup, '--data', dataDir]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, new RegExp(`^aegis restore: ${dataDir} already holds catalog\\.sqlite, .*shred-keys\\.sqlite.*, keys/k1\\.key: a restore never overwrites`));
  });

  /** A copy of the backup, altered by `change`, restored (`aegis restore`) into a fresh folder: refused with `message`, nothing restored. */
  async function refusedAfter(name: string, change: (copy: string) => Promise<void>, message: RegExp): Promise<void> {
    const copy = join(work, `${name}-backup`);
    await cp(backup, copy, { recursive: true });
    await change(copy);
    const dataDir = join(work, `${name}-data`);
    const run = await inProcess(restoreCommand, ['restore', copy, '--data', dataDir]);
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, message);
    assert.deepEqual(await readdir(dataDir).catch(() => []), [], 'nothing restored');
  }

  it('refuses a backup with a byte of the catalog changed', async () => {
    await refusedAfter(
      'flipped',
      async (copy) => {
        const file = join(copy, 'catalog.sqlite');
        const bytes = await readFile(file);
        bytes[Math.floor(bytes.length / 2)] ^= 0x01;
        await writeFile(file, bytes);
      },
      /^aegis restore: the backup in .*flipped-backup does not verify, nothing restored: catalog\.sqlite does not have the SHA-256 the manifest lists: damaged or altered\n$/,
    );
  });

  it('refuses a backup with a key file the manifest does not list', async () => {
    await refusedAfter('planted', (copy) => cp(join(copy, 'keys', 'k1.key'), join(copy, 'keys', 'k2.key')), /^aegis restore: the backup in .*planted-backup does not verify, nothing restored: keys\/k2\.key is not listed in the manifest\n$/);
  });

  it('refuses a backup whose audit trail was altered, even with the manifest rewritten to match', async () => {
    await refusedAfter(
      'forged',
      async (copy) => {
        const file = join(copy, 'catalog.sqlite');
        const db = openSqlite(file);
        db.exec("UPDATE audit_events SET event = replace(event, 'start', 'strt') WHERE seq = 1");
        db.close();
        const manifest = JSON.parse(await readFile(join(copy, 'backup.json'), 'utf8'));
        const bytes = await readFile(file);
        manifest.files[0] = { path: 'catalog.sqlite', bytes: bytes.length, sha256: sha256(bytes) };
        await writeFile(join(copy, 'backup.json'), JSON.stringify(manifest));
      },
      /^aegis restore: the audit trail of the backup in .*forged-backup does not verify, nothing restored: record 1: its MAC does not match/,
    );
  });
});
