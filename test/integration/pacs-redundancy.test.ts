/**
 * A PACS (a real Orthanc) as one member of a 2-of-3 redundancy group beside two folders: a shard
 * deleted inside Orthanc, and one replaced there by other bytes under the same UIDs, behind the
 * gateway's back, leave every read byte-identical (from the other shards, and the audit trail says
 * which shard on the PACS was missing or corrupt); `aegis scrub` finds both, `aegis repair` stores
 * them on the PACS again, and scrub is clean afterwards.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { Manifest, ShardRecord } from '../../gateway/protection/manifest.js';
import type { RepairReport } from '../../gateway/services/admin/scrub.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { changeCarriedFragment, orthancId } from '../support/pacs-fragments.js';
import { readTrail } from '../support/trail.js';

describe('a PACS in a 2-of-3 redundancy group', { timeout: 240_000 }, () => {
  let orthanc: RunningOrthanc;
  let gw: TestGateway;
  let config: Record<string, unknown>;
  const study = newUid();
  const instances = [1, 2, 3].map((seed) => Buffer.from(syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: newUid(), sopInstanceUID: newUid(), rows: 32, columns: 32, seed })));
  const urls: string[] = [];

  before(async () => {
    orthanc = await startOrthanc();
    config = {
      backends: [
        { name: 'pacs', kind: 'dicomweb', url: orthanc.dicomWebUrl, orthancUrl: orthanc.url, auth: 'none', timeoutSeconds: 10 },
        { name: 'disk-a', kind: 'fs' },
        { name: 'disk-b', kind: 'fs' },
      ],
      placement: { instances: 'trio', regions: ['trio'], groups: { trio: { scheme: 'erasure', k: 2, backends: ['pacs', 'disk-a', 'disk-b'] } } },
      protection: { verifiedCacheMiB: 0 },
    };
    gw = await startTestGateway(config);
    for (const bytes of instances) {
      const res = await stow(gw.dicomWebUrl, [bytes]);
      assert.equal(res.status, 200);
      urls.push(res.json!['00081199'].Value[0]['00081190'].Value[0] as string);
    }
  });
  after(async () => {
    await gw?.stop();
    await orthanc?.stop();
  });

  /** The shards of an instance on the PACS. */
  async function pacsShards(url: string): Promise<ShardRecord[]> {
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      const manifest = JSON.parse((await catalog.findInstance(url.split('/').pop()!))!.manifest!) as Manifest;
      return manifest.fragments.flatMap((f) => f.shards ?? []).filter((s) => s.backend === 'pacs');
    } finally {
      await catalog.close();
    }
  }

  async function aegis(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; report?: RepairReport }> {
    const file = join(gw.dataDir, 'cli-config.json');
    await writeFile(file, JSON.stringify({ ...config, dataDir: gw.dataDir }));
    const run = await runAegis(args, { env: { AEGIS_CONFIG: file }, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'] });
    return { ...run, report: run.stdout.startsWith('{') ? (JSON.parse(run.stdout) as RepairReport) : undefined };
  }

  it('stores a shard of every fragment on the PACS', async () => {
    for (const url of urls) assert.ok((await pacsShards(url)).length >= 2, url);
  });

  it('a shard deleted and one replaced inside Orthanc: reads succeed from the other shards and say so; scrub finds both; repair restores them', async () => {
    const [deleted, replaced] = [(await pacsShards(urls[0]))[0], (await pacsShards(urls[1]))[0]];
    assert.equal((await fetch(`${orthanc.url}/instances/${await orthancId(orthanc, deleted.locator)}`, { method: 'DELETE' })).status, 200);
    // The same UIDs, one byte of the shard changed in the private element that carries it.
    await changeCarriedFragment(orthanc, replaced.locator);

    for (const [i, url] of urls.entries()) assert.ok((await retrieveAsStored(url))[0].bytes.equals(instances[i]), `instance ${i + 1} reads byte-identical`);
    const events = (await readTrail(gw.dataDir)).events.filter((e) => e.kind === 'integrity' && e.outcome === 'success' && /on backend pacs (missing|corrupt)/.test(e.reason ?? ''));
    assert.ok(
      events.some((e) => / on backend pacs missing/.test(e.reason!)),
      'the degraded read of the deleted shard is audited',
    );
    assert.ok(
      events.some((e) => / on backend pacs corrupt/.test(e.reason!)),
      'the degraded read of the replaced shard is audited',
    );

    const found = await aegis(['scrub', '--json']);
    assert.equal(found.status, 1, found.stderr);
    assert.deepEqual(found.report!.faults.map((f) => [f.backend, f.problem]).sort(), [
      ['pacs', 'corrupt'],
      ['pacs', 'missing'],
    ]);
    const fixed = await aegis(['repair', '--json']);
    assert.equal(fixed.status, 0, fixed.stdout.slice(0, 2000) + fixed.stderr);
    assert.equal(fixed.report!.repaired.length, 2);
    const clean = await aegis(['scrub', '--json']);
    assert.equal(clean.status, 0, clean.stdout.slice(0, 2000));
    assert.deepEqual(clean.report!.faults, []);
    for (const [i, url] of urls.entries()) assert.ok((await retrieveAsStored(url))[0].bytes.equals(instances[i]));
  });
});
