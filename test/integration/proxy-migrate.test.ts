/**
 * `aegis migrate` against a real Orthanc (Debian, DICOMweb plugin) holding studies stored directly
 * into it: every instance moves into protected storage byte-identical; a run killed halfway by PID
 * (SIGKILL) and run again resumes with no duplicate and no loss; progress lines are printed; with
 * --delete-upstream the upstream copies go, only after verification.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { ShredKeyVault, shredKeyVaultFile } from '../../gateway/catalog/shred-key-vault.js';
import { openStores } from '../../gateway/cli/start.js';
import { loadConfig } from '../../gateway/config.js';
import { Keyring } from '../../gateway/keys/keyring.js';
import { readInstance } from '../../gateway/services/retrieve.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { AEGIS_BIN, runAegis } from '../support/aegis-cli.js';
import { createCatalog } from '../support/catalog-file.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';

describe('aegis migrate from an upstream Orthanc', () => {
  let orthanc: RunningOrthanc;
  let dataDir: string;
  let configFile: string;
  let env: Record<string, string>;
  /** SOP Instance UID -> the bytes stored into Orthanc, with their study. */
  const originals = new Map<string, { bytes: Buffer; study: string }>();
  const studies = [newUid(), newUid(), newUid()];

  before(async () => {
    orthanc = await startOrthanc();
    for (const [s, study] of studies.entries()) {
      const series = newUid();
      for (let i = 0; i < 4; i++) {
        const sop = newUid();
        const bytes = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, instanceNumber: i + 1, rows: 256, columns: 256, seed: s * 10 + i + 1, studyDate: `2024010${s + 1}` });
        const res = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: bytes });
        assert.equal(res.status, 200, await res.text());
        originals.set(sop, { bytes, study });
      }
    }
    dataDir = await mkdtemp(join(tmpdir(), 'aegis-migrate-'));
    configFile = join(dataDir, 'aegis.json');
    await writeFile(configFile, JSON.stringify({ upstream: { url: orthanc.dicomWebUrl, orthancUrl: orthanc.url }, log: { level: 'warn' } }));
    env = { AEGIS_CONFIG: configFile, AEGIS_DATA_DIR: join(dataDir, 'data') };
    const keys = await runAegis(['keys', 'generate'], { env, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID'] });
    assert.equal(keys.status, 0, keys.stderr);
    // As a first `aegis start` leaves it: migrate never creates a catalog.
    await createCatalog(env.AEGIS_DATA_DIR);
  });
  after(async () => {
    await orthanc?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Catalog counts: instances stored, and instances recorded as migrated by state. */
  async function counts(): Promise<{ instances: number; migrated: Record<string, number> }> {
    const catalog = await Catalog.openSqlite(join(env.AEGIS_DATA_DIR, 'catalog.sqlite'));
    try {
      const instances = await catalog.db
        .selectFrom('instances')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const rows = await catalog.db.selectFrom('upstream_migration').select(['state']).execute();
      const migrated: Record<string, number> = {};
      for (const { state } of rows) migrated[state] = (migrated[state] ?? 0) + 1;
      return { instances: Number(instances.n), migrated };
    } finally {
      await catalog.close();
    }
  }

  it('survives SIGKILL halfway: the second run resumes, with every instance once and byte-identical', async () => {
    const child = spawn(process.execPath, [AEGIS_BIN, 'migrate', '--all'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const killed = new Promise<{ signal: NodeJS.Signals | null; done: number }>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const done = [...stderr.matchAll(/^migrate: (\d+)\/12 instances/gm)].map((m) => Number(m[1]));
        const last = done.at(-1) ?? 0;
        if (last >= 3 && child.exitCode === null && !child.killed) process.kill(child.pid!, 'SIGKILL');
      });
      child.once('exit', (_code, signal) => resolve({ signal, done: Math.max(0, ...[...stderr.matchAll(/^migrate: (\d+)\/12/gm)].map((m) => Number(m[1]))) }));
    });
    const first = await killed;
    assert.equal(first.signal, 'SIGKILL', `killed by PID, not finished: ${stderr}`);
    assert.ok(first.done >= 3 && first.done < 12, `killed halfway (${first.done} of 12 done)`);
    const between = await counts();
    assert.ok(between.instances >= first.done && between.instances < 12, `some instances stored before the kill: ${JSON.stringify(between)}`);

    const second = await runAegis(['migrate', '--all'], { env });
    assert.equal(second.status, 0, second.stderr + second.stdout);
    assert.match(second.stderr, /^migrate: 12\/12 instances, [\d.]+ MB, [\d.]+ MB\/s, ETA 0 s$/m, 'progress lines when stderr is not a terminal');
    const summary = /^3 studies, 12 instances: (\d+) migrated and verified now, (\d+) already migrated, 0 deleted from the upstream/m.exec(second.stdout);
    assert.ok(summary, second.stdout);
    assert.equal(Number(summary[1]) + Number(summary[2]), 12);
    assert.ok(Number(summary[2]) >= first.done - 1, 'what the first run recorded is not fetched again');
    assert.deepEqual(await counts(), { instances: 12, migrated: { verified: 12 } }, 'no duplicate, no loss');

    const config = loadConfig({ file: configFile, env });
    const catalog = await Catalog.openSqlite(join(config.dataDir, 'catalog.sqlite'));
    const stores = openStores(config, env);
    const shredKeys = ShredKeyVault.open(shredKeyVaultFile(config.dataDir));
    try {
      const keyring = (await Keyring.load({ dataDir: config.dataDir, env: {} })).useShredKeys(shredKeys);
      for (const [sop, { bytes }] of originals) {
        const row = await catalog.findInstance(sop);
        assert.ok(row?.manifest, `${sop} stored protected`);
        assert.ok(Buffer.from(await readInstance({ catalog, stores, keyring }, row)).equals(bytes), `${sop} byte-identical to what Orthanc held`);
      }
    } finally {
      await catalog.close();
      shredKeys.close();
      await Promise.all([...stores.values()].map((s) => s.close()));
    }
    const third = await runAegis(['migrate', '--all'], { env });
    assert.equal(third.status, 0);
    assert.match(third.stdout, /^3 studies, 12 instances: 0 migrated and verified now, 12 already migrated/m);
  });

  it('deletes the upstream copies of a study with --delete-upstream, after verification only', async () => {
    const [study] = studies;
    const before = (await (await fetch(`${orthanc.url}/instances`)).json()) as string[];
    assert.equal(before.length, 12);
    const run = await runAegis(['migrate', '--study', study, '--delete-upstream'], { env });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /^1 studies, 4 instances: 0 migrated and verified now, 4 already migrated, 4 deleted from the upstream/m);
    const afterwards = (await (await fetch(`${orthanc.url}/instances`)).json()) as string[];
    assert.equal(afterwards.length, 8, 'the four instances of the study are gone from Orthanc');
    assert.deepEqual(await counts(), { instances: 12, migrated: { verified: 8, deleted: 4 } });
  });

  it('records every instance it stored and every upstream copy it deleted in the audit trail, which verifies', async () => {
    const catalog = await Catalog.openSqlite(join(env.AEGIS_DATA_DIR, 'catalog.sqlite'));
    let events: Array<{ operation?: string; action: string; outcome: string; actor: { name: string; method: string }; resources: Array<{ instance?: string }>; reason: string }>;
    try {
      const rows = await catalog.db.selectFrom('audit_events').select('event').orderBy('seq').execute();
      events = rows.map((r) => JSON.parse(r.event) as (typeof events)[number]).filter((e) => e.operation === 'migrate');
    } finally {
      await catalog.close();
    }
    const instancesOf = (action: string) => events.filter((e) => e.action === action && e.outcome === 'success').map((e) => e.resources[0]?.instance);
    const stored = instancesOf('create');
    // The SIGKILLed run may die between an instance's store and its record: at most that one is unrecorded.
    assert.ok(new Set(stored).size >= 11 && stored.every((sop) => originals.has(sop!)), `stores recorded: ${stored.length}`);
    assert.equal(new Set(stored).size, stored.length, 'each store recorded once, across the resumed runs');
    const [study] = studies;
    assert.deepEqual(
      instancesOf('delete').sort(),
      [...originals]
        .filter(([, o]) => o.study === study)
        .map(([sop]) => sop)
        .sort(),
      'each upstream deletion recorded',
    );
    assert.ok(events.every((e) => e.actor.method === 'local' && e.actor.name.length > 0));
    const runs = events.filter((e) => e.action === 'admin');
    assert.ok(runs.some((e) => /^migration from the upstream .* started: every study$/.test(e.reason)));
    assert.ok(
      runs.some((e) => /ended: 0 instances migrated, 4 already done, 4 deleted upstream, 0 failed$/.test(e.reason)),
      runs.map((e) => e.reason).join('\n'),
    );
    const verify = await runAegis(['audit', 'verify'], { env });
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
  });

  it('refuses a command line that selects no studies or two ways at once', async () => {
    const none = await runAegis(['migrate'], { env });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /choose the studies with exactly one of --study UID, --since\/--until DATE, --all/);
    assert.equal((await runAegis(['migrate', '--all', '--since', '2024-01-01'], { env })).status, 2);
    assert.equal((await runAegis(['migrate', '--since', 'yesterday'], { env })).status, 2);
  });
});
