/**
 * k-of-n redundancy over four fs backends (the backends of other kinds are the subject of
 * redundancy-backends.test.ts): every fragment is cut into 2 data and 2 parity shards, one per
 * backend; any two backends rebuild every instance byte-identical, and a read that needed the
 * redundancy says so in the audit trail; with three shards of a fragment gone the read is 502 with
 * no byte of the instance.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { Manifest, ShardedFragmentRecord } from '../../gateway/protection/manifest.js';
import { corpusFiles } from '../support/corpus.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';
import { runAegis } from '../support/aegis-cli.js';
import type { RepairReport } from '../../gateway/services/admin/scrub.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const DISKS = ['disk-a', 'disk-b', 'disk-c', 'disk-d'];

/** A 2-of-4 group over four fs backends, holding every role. */
export const TWO_OF_FOUR = {
  backends: DISKS.map((name) => ({ name, kind: 'fs' })),
  placement: { instances: 'spread', regions: ['spread'], groups: { spread: { scheme: 'erasure', k: 2, backends: DISKS } } },
  protection: { verifiedCacheMiB: 0 },
};

interface Stored {
  bytes: Buffer;
  url: string;
  sop: string;
  fragments: ShardedFragmentRecord[];
}

describe('2-of-4 erasure coding over four fs backends', () => {
  let gw: TestGateway;
  const stored: Stored[] = [];
  const shardFile = (backend: string, key: string) => join(gw.dataDir, 'stores', backend, key);

  before(async () => {
    gw = await startTestGateway(TWO_OF_FOUR);
    const files = corpusFiles().filter((f) => /\/(CT_small|MR_small|JPEG2000|SC_rgb_rle_2frame|image_dfl|OBXXXX1A|rtplan)\.dcm$/.test(f));
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      for (const file of files) {
        const bytes = await readFile(file);
        const res = await stow(gw.dicomWebUrl, [bytes]);
        assert.equal(res.status, 200, `${file}: ${JSON.stringify(res.json)}`);
        const url = res.json!['00081199'].Value[0]['00081190'].Value[0] as string;
        const sop = url.split('/').pop()!;
        const manifest = JSON.parse((await catalog.findInstance(sop))!.manifest!) as Manifest;
        stored.push({ bytes, url, sop, fragments: manifest.fragments as ShardedFragmentRecord[] });
      }
    } finally {
      await catalog.close();
    }
    assert.ok(stored.length >= 5, `instances stored: ${stored.length}`);
  });

  after(() => gw?.stop());

  it('keeps every fragment as 4 shards of half its size, shard j on backend j, no backend holding a fragment', async () => {
    for (const { fragments } of stored) {
      for (const f of fragments) {
        assert.deepEqual(f.redundancy, { scheme: 'erasure', k: 2, n: 4 });
        assert.deepEqual(
          f.shards.map((s) => [s.index, s.backend]),
          DISKS.map((d, j) => [j, d]),
        );
        for (const s of f.shards) {
          assert.equal(s.length, Math.max(8, Math.ceil(f.length / 16) * 8));
          assert.equal((await readFile(shardFile(s.backend, s.locator))).length, s.length);
        }
      }
    }
  });

  it('reads every instance byte-identical with any two backends emptied, and audits each read that lost a data shard as degraded', async () => {
    for (const lost of [
      ['disk-a', 'disk-b'],
      ['disk-c', 'disk-d'],
      ['disk-a', 'disk-d'],
    ]) {
      const hidden: Array<{ file: string; bytes: Buffer }> = [];
      for (const { fragments } of stored)
        for (const s of fragments.flatMap((f) => f.shards).filter((s) => lost.includes(s.backend))) {
          const file = shardFile(s.backend, s.locator);
          hidden.push({ file, bytes: await readFile(file) });
          await rm(file);
        }
      try {
        for (const { bytes, url } of stored) {
          const parts = await retrieveAsStored(url);
          assert.equal(parts.length, 1);
          assert.ok(Buffer.from(parts[0].bytes).equals(bytes), `${url} without ${lost}`);
        }
      } finally {
        for (const { file, bytes } of hidden) await writeFile(file, bytes);
      }
    }
    const sop = stored[0].sop;
    const degraded = await waitFor(async () => (await readTrail(gw.dataDir)).events.filter((e) => e.kind === 'integrity' && e.outcome === 'success' && e.resources?.[0]?.instance === sop), 2);
    // The data shards (0, 1) are read first: without disk-c and disk-d (parity) a read is not degraded.
    assert.equal(degraded.length, 2, 'one degraded read per round that lost a data shard');
    assert.match(degraded[0].reason!, /^degraded read: read from 2 of 4 shards per fragment; shard [01] of fragment \w+:\d+ on backend disk-[ab] missing; /);
    for (const disk of ['disk-a', 'disk-b']) assert.match(degraded[0].reason!, new RegExp(`shard ${disk === 'disk-a' ? 0 : 1} of fragment \\w+:\\d+ on backend ${disk} missing`));
  });

  it('takes a corrupt shard for a missing one: the read succeeds from the others', async () => {
    const { url, bytes, fragments } = stored[1];
    const shard = fragments[0].shards[0];
    const file = shardFile(shard.backend, shard.locator);
    const original = await readFile(file);
    const corrupted = Buffer.from(original);
    corrupted[0] ^= 0x80;
    await writeFile(file, corrupted);
    try {
      const parts = await retrieveAsStored(url);
      assert.ok(Buffer.from(parts[0].bytes).equals(bytes));
      const events = await waitFor(async () => (await readTrail(gw.dataDir)).events.filter((e) => e.kind === 'integrity' && e.resources?.[0]?.instance === stored[1].sop && /corrupt/.test(e.reason ?? '')));
      assert.match(events[0].reason!, new RegExp(`shard 0 of fragment ${fragments[0].role}:${fragments[0].index} on backend disk-a corrupt`));
    } finally {
      await writeFile(file, original);
    }
  });

  it('with three shards of one fragment gone, answers 502 and sends no byte of the instance', async () => {
    const { url, fragments } = stored[2];
    const gone = fragments[0].shards.slice(0, 3);
    const kept = await Promise.all(gone.map((s) => readFile(shardFile(s.backend, s.locator))));
    await Promise.all(gone.map((s) => rm(shardFile(s.backend, s.locator))));
    try {
      const res = await get(url, STORED);
      assert.equal(res.status, 502);
      assert.equal(res.body.includes(Buffer.from('DICM')), false);
    } finally {
      await Promise.all(gone.map((s, i) => writeFile(shardFile(s.backend, s.locator), kept[i])));
    }
    assert.equal((await get(url, STORED)).status, 200, 'with the shards back it reads again');
  });

  describe('aegis scrub and aegis repair', () => {
    const aegis = async (args: string[]) => {
      const configFile = join(gw.dataDir, 'cli-config.json');
      await writeFile(configFile, JSON.stringify({ ...TWO_OF_FOUR, dataDir: gw.dataDir }));
      const run = await runAegis(args, { env: { AEGIS_CONFIG: configFile }, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'] });
      return { ...run, report: args.includes('--json') && run.stdout.startsWith('{') ? (JSON.parse(run.stdout) as RepairReport) : undefined };
    };

    it('finds every piece whole', async () => {
      const run = await aegis(['scrub', '--json']);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.report!.instances, stored.length);
      assert.deepEqual(run.report!.faults, []);
      const shards = stored.reduce((n, s) => n + s.fragments.length * 4, 0);
      assert.equal(run.report!.pieces, shards);
      for (const disk of DISKS) assert.deepEqual({ ...run.report!.backends[disk], pieces: 0, bytes: 0 }, { pieces: 0, bytes: 0, missing: 0, corrupt: 0, unavailable: 0 }, disk);
      const human = await aegis(['scrub']);
      assert.match(human.stdout, /^  backend disk-b: \d+ pieces, [\d.]+ MB, whole$/m);
      assert.match(human.stdout, /^everything is whole$/m);
    });

    it('reports a backend emptied and a corrupt shard, repair rewrites them, and scrub is clean again', async () => {
      const emptied = stored.flatMap((s) => s.fragments.flatMap((f) => f.shards)).filter((s) => s.backend === 'disk-b');
      for (const s of emptied) await rm(shardFile(s.backend, s.locator));
      const corrupt = stored[3].fragments[0].shards[2];
      const original = await readFile(shardFile(corrupt.backend, corrupt.locator));
      const flipped = Buffer.from(original);
      flipped[flipped.length - 1] ^= 1;
      await writeFile(shardFile(corrupt.backend, corrupt.locator), flipped);

      const found = await aegis(['scrub', '--json']);
      assert.equal(found.status, 1);
      assert.equal(found.report!.backends['disk-b'].missing, emptied.length);
      assert.equal(found.report!.backends['disk-c'].corrupt, 1);
      assert.equal(found.report!.faults.length, emptied.length + 1);
      assert.deepEqual(found.report!.unreadable, [], 'every instance can still be read');
      assert.match((await aegis(['scrub'])).stdout, new RegExp(`^  corrupt: instance ${stored[3].sop} \\w+:\\d+ shard 2 on disk-c: `, 'm'));

      const fixed = await aegis(['repair', '--json']);
      assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
      assert.equal(fixed.report!.repaired.length, emptied.length + 1);
      assert.deepEqual(fixed.report!.unrepaired, []);
      for (const s of emptied) assert.equal(sha256(await readFile(shardFile(s.backend, s.locator))), s.sha256, 'rewritten as recorded');
      assert.ok((await readFile(shardFile(corrupt.backend, corrupt.locator))).equals(original));

      const clean = await aegis(['scrub', '--json']);
      assert.equal(clean.status, 0);
      assert.deepEqual(clean.report!.faults, []);
      for (const { bytes, url } of stored) assert.ok(Buffer.from((await retrieveAsStored(url))[0].bytes).equals(bytes));
    });

    it('rewrites a lost manifest copy; three shards of one fragment gone are reported, not repaired', async () => {
      const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
      const row = (await catalog.findInstance(stored[4].sop))!;
      await catalog.close();
      const copy = join(gw.dataDir, 'stores', row.backend, row.locator);
      const copyBytes = await readFile(copy);
      await rm(copy);
      const gone = stored[0].fragments[1].shards.slice(1);
      const kept = await Promise.all(gone.map((s) => readFile(shardFile(s.backend, s.locator))));
      await Promise.all(gone.map((s) => rm(shardFile(s.backend, s.locator))));
      try {
        const run = await aegis(['repair', '--json']);
        assert.equal(run.status, 1);
        assert.deepEqual(run.report!.unreadable, [{ sopInstanceUid: stored[0].sop, reason: `fragment ${stored[0].fragments[1].role}:${stored[0].fragments[1].index} has 1 intact pieces, too few to read` }]);
        assert.equal(run.report!.unrepaired.length, 3);
        assert.match(run.report!.unrepaired[0].reason, /only 1 of the 2 shards needed to rebuild a fragment are intact/);
        assert.deepEqual(run.report!.repaired, [{ sopInstanceUid: stored[4].sop, fragment: 'manifest-copy', backend: row.backend }]);
        // Sealed again under a fresh nonce: the same manifest, other bytes of the same length.
        assert.equal((await readFile(copy)).length, copyBytes.length, 'the copy is written back');
      } finally {
        await Promise.all(gone.map((s, i) => writeFile(shardFile(s.backend, s.locator), kept[i])));
      }
      assert.equal((await aegis(['scrub'])).status, 0);
    });
  });
});

/** SHA-256 (hex). */
function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Polls `probe` until it returns `count` items or more (the trail writes buffered events in batches). */
async function waitFor<T>(probe: () => Promise<T[]>, count = 1, ms = 10_000): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
