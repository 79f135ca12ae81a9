/**
 * The gateway on real remote backends: the pixel regions on an S3 server (s3rver) and an IPFS node
 * (the js-ipfs daemon), instances and manifest copies in a folder, all started by this file. The
 * python3-pydicom corpus goes in through STOW-RS, one file per request, and every stored instance
 * reads back byte-identical; regions are found in the bucket and the node's pin set. A fragment
 * corrupted or deleted directly in the bucket makes its instance answer 502 with no byte of it sent.
 * Key rotation with manifest copies on IPFS (content-addressed: no overwrite) records the rewritten
 * copy's new CID and unpins the old one.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { IpfsFragmentStore } from '../../adapters/ipfs/ipfs-store.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { Manifest, WholeFragmentRecord } from '../../gateway/protection/manifest.js';
import { runAegis } from '../support/aegis-cli.js';
import { corpusFiles } from '../support/corpus.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startIpfsDaemon, type TestIpfsDaemon } from '../support/ipfs-daemon.js';
import { startS3rver, type TestS3Server } from '../support/s3rver.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';

const BUCKET = 'aegis-regions';
const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

let s3: TestS3Server;
let ipfs: TestIpfsDaemon;
let secrets: string;

before(async () => {
  [s3, ipfs] = await Promise.all([startS3rver([BUCKET]), startIpfsDaemon()]);
  secrets = await mkdtemp(join(tmpdir(), 'aegis-s3-secrets-'));
  await writeFile(join(secrets, 's3.json'), JSON.stringify(s3.credentials), { mode: 0o600 });
});
after(async () => {
  await Promise.all([s3?.stop(), ipfs?.stop(), secrets && rm(secrets, { recursive: true, force: true })]);
});

/** fs for instances and manifest copies (or `instances`), regions on s3 and ipfs; no verified cache. */
function remoteConfig(instances = 'local'): Record<string, unknown> {
  return {
    backends: [
      { name: 'local', kind: 'fs' },
      { name: 's3-test', kind: 's3', endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, forcePathStyle: true, credentialsFile: join(secrets, 's3.json'), timeoutSeconds: 10 },
      { name: 'ipfs-test', kind: 'ipfs', url: ipfs.url, timeoutSeconds: 10 },
    ],
    placement: { instances, regions: ['s3-test', 'ipfs-test'] },
    protection: { verifiedCacheMiB: 0 },
  };
}

/** A manifest whose fragments are stored whole (no redundancy group in this placement). */
type WholeManifest = Omit<Manifest, 'fragments'> & { fragments: WholeFragmentRecord[] };

/** The signed manifest the catalog of `gw` holds for an instance. */
async function manifestOf(gw: TestGateway, sop: string): Promise<{ manifest: WholeManifest; row: { storage_key: string; locator: string; backend: string } }> {
  const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
  try {
    const row = await catalog.findInstance(sop);
    assert.ok(row?.manifest, `instance ${sop} has a manifest`);
    return { manifest: JSON.parse(row.manifest) as WholeManifest, row };
  } finally {
    await catalog.close();
  }
}

describe('the gateway with regions on S3 and IPFS', () => {
  let gw: TestGateway;
  /** SOP Instance UID -> the bytes stored and their WADO-RS URL. */
  const stored = new Map<string, { bytes: Buffer; url: string; file: string }>();

  before(async () => {
    gw = await startTestGateway(remoteConfig());
  });
  after(async () => {
    await gw?.stop();
  });

  it('stores the pydicom corpus through STOW-RS and reads every instance back byte-identical', async () => {
    let refused = 0;
    for (const file of corpusFiles()) {
      const bytes = readFileSync(file);
      const res = await stow(gw.dicomWebUrl, [bytes]);
      // 202: stored with a warning (pixel data kept as opaque bytes); 409: refused.
      assert.ok(res.status === 200 || res.status === 202 || res.status === 409, `${file}: STOW answered ${res.status}`);
      if (res.status === 409) {
        refused++;
        continue;
      }
      const item = res.json!['00081199'].Value[0];
      stored.set(item['00081155'].Value[0], { bytes, url: item['00081190'].Value[0], file });
    }
    assert.ok(stored.size >= 50, `only ${stored.size} corpus files were stored (${refused} refused)`);
    for (const [sop, { bytes, url, file }] of stored) {
      const parts = await retrieveAsStored(url);
      assert.equal(parts.length, 1, file);
      assert.ok(parts[0].bytes.equals(bytes), `${file} (${sop}) reads back byte-identical`);
    }
  });

  it('put the regions in the bucket and in the IPFS pin set, instances and manifest copies in the folder', async () => {
    const backends = new Map<string, number>();
    let ipfsLocator: string | undefined;
    for (const sop of stored.keys()) {
      const { manifest, row } = await manifestOf(gw, sop);
      assert.equal(row.backend, 'local');
      assert.match(row.storage_key, /^m\/[0-9a-f]{2}\/[0-9a-f]{32}$/);
      assert.equal(row.locator, row.storage_key);
      for (const f of manifest.fragments) {
        backends.set(f.backend, (backends.get(f.backend) ?? 0) + 1);
        assert.match(f.key ?? '', /^f\/[0-9a-f]{2}\/[0-9a-f]{32}\.\d+$/);
        if (f.backend === 'ipfs-test') {
          assert.match(f.locator, /^baf[a-z2-7]+$/, 'an IPFS locator is a CID, not the key');
          ipfsLocator = f.locator;
        } else assert.equal(f.locator, f.key);
        if (f.role === 'region') assert.equal(f.backend, f.index % 2 === 0 ? 's3-test' : 'ipfs-test');
      }
    }
    assert.ok((backends.get('s3-test') ?? 0) > 0 && (backends.get('ipfs-test') ?? 0) > 0 && (backends.get('local') ?? 0) > 0, JSON.stringify([...backends]));
    const node = new IpfsFragmentStore({ name: 'check', url: ipfs.url });
    assert.equal(await node.has(ipfsLocator!), true);
  });

  /** Instances with a region in the bucket, and that region's record. */
  async function withS3Region(): Promise<Array<{ url: string; file: string; region: WholeFragmentRecord }>> {
    const out = [];
    for (const [sop, { url, file }] of stored) {
      const region = (await manifestOf(gw, sop)).manifest.fragments.find((f) => f.backend === 's3-test' && f.length > 0);
      if (region) out.push({ url, file, region });
    }
    assert.ok(out.length >= 2, 'two instances with a region in the bucket');
    return out;
  }

  it('a fragment corrupted in the bucket gives 502 and no byte of the instance', async () => {
    const { url, file, region } = (await withS3Region())[0];
    const object = join(s3.directory, BUCKET, `${region.key}._S3rver_object`);
    const original = await readFile(object);
    const corrupted = Buffer.from(original);
    corrupted[corrupted.length >> 1] ^= 0x01;
    writeFileSync(object, corrupted);
    try {
      const res = await get(url, STORED);
      assert.equal(res.status, 502, file);
      assert.match(res.headers.get('content-type') ?? '', /json/);
      assert.equal(res.body.includes(Buffer.from('DICM')), false, 'no part of the instance was sent');
    } finally {
      writeFileSync(object, original);
    }
    assert.equal((await retrieveAsStored(url))[0].bytes.length > 0, true, 'restored, it reads again');
  });

  it('a fragment deleted from the bucket gives 502 and no byte of the instance', async () => {
    const candidates = await withS3Region();
    const { url, region } = candidates[candidates.length - 1];
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: region.key! }));
    client.destroy();
    const res = await get(url, STORED);
    assert.equal(res.status, 502);
    assert.equal(res.body.includes(Buffer.from('DICM')), false, 'no part of the instance was sent');
  });
});

describe('key rotation with manifest copies on IPFS', () => {
  it('records the new CID of each rewritten copy and unpins the old one; the instance reads back byte-identical', async () => {
    const gw = await startTestGateway(remoteConfig('ipfs-test'));
    try {
      const bytes = syntheticInstance({ studyInstanceUID: newUid(), seed: 7 });
      const res = await stow(gw.dicomWebUrl, [bytes]);
      assert.equal(res.status, 200);
      const item = res.json!['00081199'].Value[0];
      const sop = item['00081155'].Value[0] as string;
      const before = (await manifestOf(gw, sop)).row;
      assert.equal(before.backend, 'ipfs-test');
      assert.notEqual(before.locator, before.storage_key, 'the copy is located by its CID');
      const configFile = join(gw.dataDir, 'rotation-config.json');
      writeFileSync(configFile, JSON.stringify({ ...remoteConfig('ipfs-test'), dataDir: gw.dataDir }));
      const env = { AEGIS_CONFIG: configFile };
      const unset = ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'];
      assert.equal((await runAegis(['keys', 'generate'], { env, unset })).status, 0);
      const rotate = await runAegis(['keys', 'rotate'], { env, unset });
      assert.equal(rotate.status, 0, rotate.stderr);
      assert.match(rotate.stdout, /^1 data keys rewrapped under k\d/m);
      const after = (await manifestOf(gw, sop)).row;
      assert.equal(after.storage_key, before.storage_key, 'the key stays');
      assert.notEqual(after.locator, before.locator, 'the rewritten copy has a new CID, recorded in the catalog');
      const node = new IpfsFragmentStore({ name: 'check', url: ipfs.url });
      assert.equal(await node.has(after.locator), true);
      assert.equal(await node.has(before.locator), false, 'the old copy is unpinned');
      const [part] = await retrieveAsStored(item['00081190'].Value[0]);
      assert.ok(part.bytes.equals(bytes), 'reads back byte-identical under the new key');
    } finally {
      await gw.stop();
    }
  });

  it('reindex refuses when the instances backend cannot list, and says why', async () => {
    const gw = await startTestGateway(remoteConfig('ipfs-test'));
    try {
      const configFile = join(gw.dataDir, 'reindex-config.json');
      writeFileSync(configFile, JSON.stringify({ ...remoteConfig('ipfs-test'), dataDir: gw.dataDir }));
      const run = await runAegis(['reindex'], { env: { AEGIS_CONFIG: configFile }, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'] });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /reindex lists the manifest copies in the instances backend 'ipfs-test', and a ipfs backend cannot list its fragments/);
    } finally {
      await gw.stop();
    }
  });
});
