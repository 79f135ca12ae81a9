/**
 * k-of-n redundancy on real servers: a 2-of-4 group over an S3 bucket (s3rver in a process of its
 * own), an IPFS node (the js-ipfs RPC daemon) and two fs folders, shard j on backend j (the data
 * shards on S3 and IPFS). The pydicom corpus is stored; with s3rver killed by its PID every instance
 * still reads byte-identical; with it back `aegis scrub` finds everything whole; with its objects
 * deleted scrub reports them and `aegis repair` rewrites them. A shard overwritten through the S3 API
 * and a shard unpinned from IPFS are detected on read (the read succeeds from the other shards and
 * the audit trail says which shard was corrupt or missing), by scrub, and repaired. Without
 * redundancy the same damage is a 502 with no byte of the instance, and repair says it has nothing
 * to rebuild from.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { IpfsFragmentStore } from '../../adapters/ipfs/ipfs-store.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { FragmentRecord, Manifest, ShardRecord } from '../../gateway/protection/manifest.js';
import type { RepairReport } from '../../gateway/services/admin/scrub.js';
import { runAegis } from '../support/aegis-cli.js';
import { corpusFiles } from '../support/corpus.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startIpfsDaemon, type TestIpfsDaemon } from '../support/ipfs-daemon.js';
import { running } from '../support/processes.js';
import { startS3rverProcess, type S3rverProcess } from '../support/s3rver-process.js';
import { readTrail } from '../support/trail.js';

const BUCKET = 'aegis-shards';
const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const GROUP = ['s3', 'ipfs', 'disk-a', 'disk-b'];

let s3: S3rverProcess;
let ipfs: TestIpfsDaemon;
let secrets: string;

before(async () => {
  [s3, ipfs] = await Promise.all([startS3rverProcess([BUCKET]), startIpfsDaemon()]);
  secrets = await mkdtemp(join(tmpdir(), 'aegis-s3-secrets-'));
  await writeFile(join(secrets, 's3.json'), JSON.stringify(s3.credentials), { mode: 0o600 });
});
after(async () => {
  await Promise.all([s3?.stop(), ipfs?.stop(), secrets && rm(secrets, { recursive: true, force: true })]);
});

/** The four backends; `placement` decides what goes where. */
function config(placement: Record<string, unknown>): Record<string, unknown> {
  return {
    backends: [
      { name: 's3', kind: 's3', endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, forcePathStyle: true, credentialsFile: join(secrets, 's3.json'), timeoutSeconds: 10 },
      { name: 'ipfs', kind: 'ipfs', url: ipfs.url, timeoutSeconds: 10 },
      { name: 'disk-a', kind: 'fs' },
      { name: 'disk-b', kind: 'fs' },
    ],
    placement,
    protection: { verifiedCacheMiB: 0 },
  };
}

// No hedged reads: the data shards (on S3 and IPFS) are always read first and their damage always
// seen, however slow a loaded machine makes them (otherwise the two fs shards may win the race).
const TWO_OF_FOUR = { instances: 'spread', regions: ['spread'], groups: { spread: { scheme: 'erasure', k: 2, backends: GROUP } }, hedgeMilliseconds: 60_000 };

/** Runs the aegis command line on the data directory of `gw` with `placement`. */
async function aegis(gw: TestGateway, placement: Record<string, unknown>, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; report?: RepairReport }> {
  const file = join(gw.dataDir, 'cli-config.json');
  await writeFile(file, JSON.stringify({ ...config(placement), dataDir: gw.dataDir }));
  const run = await runAegis(args, { env: { AEGIS_CONFIG: file }, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'] });
  return { ...run, report: run.stdout.startsWith('{') ? (JSON.parse(run.stdout) as RepairReport) : undefined };
}

/** An instance the gateway stored. */
interface StoredInstance {
  bytes: Buffer;
  url: string;
  sop: string;
  fragments: FragmentRecord[];
}

/** Stores each of `files` on its own; returns what was stored (the corpus has files the gateway refuses with 4xx). */
async function storeAll(gw: TestGateway, files: string[]): Promise<StoredInstance[]> {
  const stored: StoredInstance[] = [];
  const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
  try {
    for (const file of files) {
      const bytes = await readFile(file);
      const res = await stow(gw.dicomWebUrl, [bytes]);
      assert.ok(res.status < 500, `${file}: ${res.status}`);
      // 202: stored with a warning (pixel data kept as opaque bytes).
      if (res.status !== 200 && res.status !== 202) continue;
      const url = res.json!['00081199'].Value[0]['00081190'].Value[0] as string;
      const sop = url.split('/').pop()!;
      if (stored.some((s) => s.sop === sop)) continue;
      const manifest = JSON.parse((await catalog.findInstance(sop))!.manifest!) as Manifest;
      stored.push({ bytes, url, sop, fragments: manifest.fragments });
    }
  } finally {
    await catalog.close();
  }
  return stored;
}

/** Polls the audit trail until `count` events match. */
async function auditEvents(gw: TestGateway, match: (e: { kind: string; outcome: string; reason?: string; resources?: ReadonlyArray<{ instance?: string }> }) => boolean, count: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = (await readTrail(gw.dataDir)).events.filter(match);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('2-of-4 over s3, ipfs and two fs folders: the pydicom corpus survives a killed backend', () => {
  let gw: TestGateway;
  let stored: StoredInstance[];
  const client = () => new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
  const shardsOn = (backend: string): ShardRecord[] => stored.flatMap((s) => s.fragments.flatMap((f) => f.shards ?? [])).filter((s) => s.backend === backend);

  before(async () => {
    gw = await startTestGateway(config(TWO_OF_FOUR));
    stored = await storeAll(gw, corpusFiles());
    assert.ok(stored.length >= 50, `instances stored: ${stored.length}`);
  });
  after(() => gw?.stop());

  it('every instance reads byte-identical with s3rver killed by its PID', async () => {
    const pid = s3.pid();
    await s3.kill();
    assert.equal(running(pid), false);
    try {
      for (const { bytes, url } of stored) assert.ok(Buffer.from((await retrieveAsStored(url))[0].bytes).equals(bytes), url);
      const scrub = await aegis(gw, TWO_OF_FOUR, ['scrub', '--json']);
      assert.equal(scrub.status, 1, 'scrub sees the backend down');
      assert.equal(scrub.report!.backends.s3.unavailable, shardsOn('s3').length + stored.length, 'every shard and manifest copy on s3 unreachable');
      assert.deepEqual(scrub.report!.unreadable, []);
    } finally {
      await s3.restart();
    }
    const back = await aegis(gw, TWO_OF_FOUR, ['scrub']);
    assert.equal(back.status, 0, back.stdout + back.stderr);
    assert.match(back.stdout, /^  backend s3: \d+ pieces, [\d.]+ MB, whole$/m);
    assert.match(back.stdout, /^everything is whole$/m);
  });

  it('with the objects of s3 deleted, scrub reports them, repair rewrites them and scrub is clean', async () => {
    const s3Client = client();
    try {
      const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'f/' }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
      assert.equal(keys.length, shardsOn('s3').length);
      for (let i = 0; i < keys.length; i += 500) await s3Client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.slice(i, i + 500) } }));
    } finally {
      s3Client.destroy();
    }
    const found = await aegis(gw, TWO_OF_FOUR, ['scrub', '--json']);
    assert.equal(found.status, 1);
    assert.equal(found.report!.backends.s3.missing, shardsOn('s3').length);
    for (const { bytes, url } of stored.slice(0, 10)) assert.ok(Buffer.from((await retrieveAsStored(url))[0].bytes).equals(bytes), url);
    const fixed = await aegis(gw, TWO_OF_FOUR, ['repair', '--json']);
    assert.equal(fixed.status, 0, fixed.stdout.slice(0, 2000) + fixed.stderr);
    assert.equal(fixed.report!.repaired.length, shardsOn('s3').length);
    const clean = await aegis(gw, TWO_OF_FOUR, ['scrub', '--json']);
    assert.equal(clean.status, 0);
    assert.deepEqual(clean.report!.faults, []);
  });

  it('a shard overwritten through the S3 API and a shard unpinned from IPFS: the read succeeds and is audited as degraded; scrub finds both; repair fixes both', async () => {
    const victim = stored.find((s) => s.fragments.length >= 3)!;
    const onS3 = victim.fragments[0].shards![0];
    const onIpfs = victim.fragments[1].shards![1];
    assert.equal(onS3.backend, 's3');
    assert.equal(onIpfs.backend, 'ipfs');
    const s3Client = client();
    await s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: onS3.key!, Body: Buffer.alloc(onS3.length, 0x5a) }));
    s3Client.destroy();
    const node = new IpfsFragmentStore({ name: 'check', url: ipfs.url });
    assert.equal(await node.delete(onIpfs.locator), true, 'unpinned');

    assert.ok(Buffer.from((await retrieveAsStored(victim.url))[0].bytes).equals(victim.bytes));
    const events = await auditEvents(gw, (e) => e.kind === 'integrity' && e.outcome === 'success' && e.resources?.[0]?.instance === victim.sop && / corrupt/.test(e.reason ?? ''), 1);
    assert.equal(events.length, 1);
    assert.match(events[0].reason!, new RegExp(`shard 0 of fragment ${victim.fragments[0].role}:${victim.fragments[0].index} on backend s3 corrupt`));
    assert.match(events[0].reason!, new RegExp(`shard 1 of fragment ${victim.fragments[1].role}:${victim.fragments[1].index} on backend ipfs missing`));

    const found = await aegis(gw, TWO_OF_FOUR, ['scrub', '--json']);
    assert.equal(found.status, 1);
    assert.deepEqual(
      // Fragments are checked in parallel: the faults come in no set order.
      found.report!.faults.map((f) => [f.sopInstanceUid, f.shard, f.backend, f.problem]).sort((a, b) => Number(a[1]) - Number(b[1])),
      [
        [victim.sop, 0, 's3', 'corrupt'],
        [victim.sop, 1, 'ipfs', 'missing'],
      ],
    );
    const fixed = await aegis(gw, TWO_OF_FOUR, ['repair']);
    assert.equal(fixed.status, 0, fixed.stdout);
    assert.match(fixed.stdout, /^repaired 2 pieces, 0 left$/m);
    assert.equal(await node.has(onIpfs.locator), true, 'the same bytes, the same CID, pinned again');
    await node.close();
    assert.equal((await aegis(gw, TWO_OF_FOUR, ['scrub'])).status, 0);
  });
});

describe('the same damage without redundancy', () => {
  const PLAIN = { instances: 'disk-a', regions: ['s3', 'ipfs'] };

  it('is a 502 with no byte of the instance, found by scrub, and repair says it has nothing to rebuild from', async () => {
    const gw = await startTestGateway(config(PLAIN));
    try {
      const stored = await storeAll(
        gw,
        corpusFiles().filter((f) => /\/(CT_small|MR_small)\.dcm$/.test(f)),
      );
      assert.equal(stored.length, 2);
      const [ct, mr] = stored.map((s) => ({ ...s, region: (s.fragments as Array<FragmentRecord & { backend?: string }>).filter((f) => f.role === 'region') }));
      const onS3 = ct.region.find((f) => f.backend === 's3')! as FragmentRecord & { key: string; length: number };
      const onIpfs = mr.region.find((f) => f.backend === 'ipfs')! as FragmentRecord & { locator: string };
      const s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
      await s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: onS3.key, Body: Buffer.alloc(onS3.length, 0x5a) }));
      s3Client.destroy();
      const node = new IpfsFragmentStore({ name: 'check', url: ipfs.url });
      await node.delete(onIpfs.locator);
      await node.close();
      for (const { url } of [ct, mr]) {
        const res = await get(url, STORED);
        assert.equal(res.status, 502, url);
        assert.equal(res.body.includes(Buffer.from('DICM')), false, 'no byte of the instance');
      }
      const found = await aegis(gw, PLAIN, ['scrub', '--json']);
      assert.equal(found.status, 1);
      assert.deepEqual(
        found.report!.faults.map((f) => [f.sopInstanceUid, f.backend, f.problem]).sort(),
        [
          [ct.sop, 's3', 'corrupt'],
          [mr.sop, 'ipfs', 'missing'],
        ].sort(),
      );
      const repaired = await aegis(gw, PLAIN, ['repair', '--json']);
      assert.equal(repaired.status, 1);
      assert.deepEqual(repaired.report!.repaired, []);
      for (const u of repaired.report!.unrepaired) assert.equal(u.reason, 'stored whole, without redundancy: nothing to rebuild it from');
    } finally {
      await gw.stop();
    }
  });
});
