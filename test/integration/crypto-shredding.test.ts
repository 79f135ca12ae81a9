/**
 * Crypto-shredding on a store that cannot delete for certain: a study stored wholly on IPFS (the
 * js-ipfs daemon, started here) is deleted; its fragments and manifest copies are then fetched by
 * CID straight from the node (unpinned, their blocks are still there) and tried with everything
 * the gateway still holds: every master key of the keyring, the data keys the manifest copies give
 * once opened with those keys, the catalog and the shred key vault, through the gateway's own read
 * path. Nothing opens them. The audit trail records the key destruction, and `aegis stats` counts
 * the fragments awaiting physical removal. A STOW whose write fails part-way leaves no instance, no
 * shred key, and every fragment it had written on IPFS in the removal ledger.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create as ipfsClient } from 'kubo-rpc-client';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { openSqlite } from '../../gateway/catalog/sqlite.js';
import { ShredKeyVault, shredKeyVaultFile } from '../../gateway/catalog/shred-key-vault.js';
import { isGatewayError } from '../../gateway/errors.js';
import { fragmentAad } from '../../gateway/keys/associated-data.js';
import { decryptFragment } from '../../gateway/keys/envelope.js';
import { openInstanceKey } from '../../gateway/keys/instance-keys.js';
import { Keyring } from '../../gateway/keys/keyring.js';
import { MANIFEST_VERSION, storedPieces, verifyManifest, type Manifest, type ManifestBody } from '../../gateway/protection/manifest.js';
import { openManifestCopy } from '../../gateway/protection/manifest-copy.js';
import { fragmentKey, reassembleInstance } from '../../gateway/protection/reassemble.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startIpfsDaemon, type TestIpfsDaemon } from '../support/ipfs-daemon.js';
import { readTrail } from '../support/trail.js';

let ipfs: TestIpfsDaemon;
before(async () => {
  ipfs = await startIpfsDaemon();
});
after(async () => {
  await ipfs?.stop();
});

/** Everything stored of one instance, as an observer of the IPFS node would find it by CID. */
interface Observed {
  sop: string;
  bytes: Buffer;
  copyCid: string;
  /** Each fragment: the CID of the object holding it (a bundle, one per backend) and where it lies in it. */
  fragments: Map<string, { cid: string; offset: number; length: number; role: string; index: number }>;
  shredKey: Buffer;
}

/** The bytes of `cid` straight from the node (no pin needed), or undefined when the node has none. */
async function cat(cid: string): Promise<Buffer | undefined> {
  const client = ipfsClient({ url: ipfs.url });
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of client.cat(cid, { timeout: 5000 })) chunks.push(chunk);
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks);
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true, withFileTypes: true })) as Array<{ isFile(): boolean; parentPath?: string; path?: string; name: string }>).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path ?? dir, e.name));
}

describe('crypto-shredding delete on IPFS', () => {
  let gw: TestGateway;
  const study = newUid();
  const observed: Observed[] = [];

  before(async () => {
    gw = await startTestGateway({
      backends: [
        { name: 'ipfs-a', kind: 'ipfs', url: ipfs.url, timeoutSeconds: 10 },
        { name: 'ipfs-b', kind: 'ipfs', url: ipfs.url, timeoutSeconds: 10 },
      ],
      placement: { instances: 'ipfs-a', regions: ['ipfs-a', 'ipfs-b'] },
      protection: { verifiedCacheMiB: 0 },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('stores a study on IPFS whose fragments open with the shred key vault (the control)', async () => {
    const instances = [1, 2, 3].map((seed) => syntheticInstance({ studyInstanceUID: study, seed, rows: 24, columns: 20 }));
    const res = await stow(gw.dicomWebUrl, instances);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    const vault = ShredKeyVault.open(shredKeyVaultFile(gw.dataDir));
    const keyring = (await Keyring.load({ dataDir: gw.dataDir, env: {} })).useShredKeys(vault);
    try {
      for (const [i, item] of (res.json!['00081199'].Value as Array<Record<string, { Value: string[] }>>).entries()) {
        const sop = item['00081155'].Value[0];
        const row = await catalog.findInstance(sop);
        const manifest = JSON.parse(row!.manifest!) as Manifest;
        assert.equal(row!.backend, 'ipfs-a');
        assert.match(manifest.dataKey?.shredKeyId ?? '', /^[0-9a-f]{32}$/, 'the manifest names a shred key');
        assert.ok(manifest.fragments.flatMap(storedPieces).every((f) => f.backend.startsWith('ipfs-') && /^baf/.test(f.locator)));
        const shredKey = vault.find(manifest.dataKey!.shredKeyId!);
        assert.ok(shredKey, 'the vault holds the shred key');
        const pieces = manifest.fragments.map((f) => [fragmentKey(f), { cid: storedPieces(f)[0].locator, offset: storedPieces(f)[0].offset ?? 0, length: f.length, role: f.role, index: f.index }] as const);
        observed.push({ sop, bytes: instances[i], copyCid: row!.locator, fragments: new Map(pieces), shredKey });
        assert.equal(new Set(pieces.map(([, f]) => f.cid)).size, 2, 'one object on each backend');
        // The same read path the test runs after the delete opens the instance now.
        const fetched = new Map<string, Uint8Array>();
        for (const [key, f] of observed[i].fragments) fetched.set(key, (await cat(f.cid))!.subarray(f.offset, f.offset + f.length));
        const body = verifyManifest(openManifestCopy((await cat(row!.locator))!, keyring), keyring, sop);
        assert.ok(Buffer.from(reassembleInstance(body, fetched, keyring)).equals(instances[i]), 'control: the fragments open before the delete');
        const [part] = await retrieveAsStored(item['00081190'].Value[0]);
        assert.ok(part.bytes.equals(instances[i]));
      }
    } finally {
      vault.close();
      await catalog.close();
    }
    assert.equal(observed.length, 3);
  });

  it('after DELETE nothing the gateway holds opens the fragments still on the node; the trail records the key destruction', async () => {
    assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${study}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${study}`)).status, 404);

    const keyring = await Keyring.load({ dataDir: gw.dataDir, env: {} });
    assert.ok(keyring.keys.length >= 1);
    const vault = ShredKeyVault.open(shredKeyVaultFile(gw.dataDir));
    keyring.useShredKeys(vault);
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      for (const row of await catalog.listInstances({ study })) assert.fail(`instance ${row.sop_instance_uid} is still in the catalog`);
      for await (const row of catalog.manifests()) assert.ok(!observed.some((o) => row.manifest.includes(o.sop)), 'no manifest of the study is left in the catalog');
      assert.equal(vault.count(), 0, 'the vault holds no shred key any more');

      for (const o of observed) {
        // The blocks are still on the node: unpinned is not deleted.
        const copyBytes = await cat(o.copyCid);
        assert.ok(copyBytes, `the manifest copy ${o.copyCid} is still fetchable by CID`);
        const fetched = new Map<string, Uint8Array>();
        for (const [key, f] of o.fragments) {
          const bytes = await cat(f.cid);
          assert.ok(bytes, `fragment ${key} (${f.cid}) is still fetchable by CID`);
          fetched.set(key, bytes.subarray(f.offset, f.offset + f.length));
        }
        // The copy still opens with the master key: the manifest and its wrapped data key are readable.
        const body: ManifestBody = verifyManifest(openManifestCopy(copyBytes, keyring), keyring, o.sop);
        // 1. The gateway's own read path refuses: the shred key is gone.
        assert.throws(
          () => reassembleInstance(body, fetched, keyring),
          (e) => isGatewayError(e, 'KEY_NOT_FOUND') && /shred key [0-9a-f]{32} is not in the vault/.test(e.message),
          'reassembly after the delete',
        );
        assert.throws(
          () => openInstanceKey(keyring, body.dataKey!),
          (e) => isGatewayError(e, 'KEY_NOT_FOUND'),
        );
        // 2. Every key within reach as the fragment key: the unwrapped data key, the manifest with its shred key id dropped, every master key.
        const dataKey = keyring.unwrap({ keyId: body.dataKey!.keyId, wrapped: Buffer.from(body.dataKey!.wrapped, 'base64') });
        const candidates = [dataKey, ...keyring.keys.map((k) => k.secret)];
        for (const [key, f] of o.fragments) {
          const sealed = fetched.get(key)!;
          if (sealed.length === 0) continue;
          const aad = fragmentAad({ sopInstanceUid: o.sop, role: f.role, index: f.index, manifestVersion: MANIFEST_VERSION });
          for (const [n, candidate] of candidates.entries()) {
            assert.throws(
              () => decryptFragment(candidate, sealed, aad),
              (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
              `fragment ${key} under candidate key ${n}`,
            );
          }
        }
        const legacy = { ...body, dataKey: { keyId: body.dataKey!.keyId, wrapped: body.dataKey!.wrapped } };
        assert.throws(
          () => reassembleInstance(legacy, fetched, keyring),
          (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
          'read as a manifest from before shred keys',
        );
      }
    } finally {
      vault.close();
      await catalog.close();
    }

    // 3. No byte of any shred key is left anywhere in the data directory (catalog, vault, keys, WALs).
    for (const file of await filesUnder(gw.dataDir)) {
      const bytes = await readFile(file);
      for (const o of observed) assert.equal(bytes.includes(o.shredKey), false, `the shred key of ${o.sop} is in ${file}`);
    }

    const { events, verification } = await readTrail(gw.dataDir);
    assert.equal(verification.ok, true);
    const destruction = events.filter((e) => e.kind === 'admin' && e.operation === 'key-destruction');
    assert.equal(destruction.length, 1, JSON.stringify(destruction));
    assert.equal(destruction[0].outcome, 'success');
    assert.equal(destruction[0].action, 'delete');
    assert.equal(destruction[0].reason, 'crypto-shredding: shred keys of 3 instances destroyed');
    assert.deepEqual(destruction[0].resources.map((r) => r.instance).sort(), observed.map((o) => o.sop).sort());
  });

  it('aegis stats counts the fragments left on IPFS as awaiting physical removal', async () => {
    const configFile = join(gw.dataDir, 'stats-config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        dataDir: gw.dataDir,
        backends: [
          { name: 'ipfs-a', kind: 'ipfs', url: ipfs.url },
          { name: 'ipfs-b', kind: 'ipfs', url: ipfs.url },
        ],
        placement: { instances: 'ipfs-a', regions: ['ipfs-a', 'ipfs-b'] },
      }),
    );
    const run = await runAegis(['stats', '--json', '--config', configFile], { unset: ['AEGIS_DATA_DIR', 'AEGIS_CONFIG'] });
    assert.equal(run.status, 0, run.stderr);
    const stats = JSON.parse(run.stdout) as { awaitingRemoval: { total: number; failed: number; bestEffort: number; backends: Record<string, { failed: number; bestEffort: number }> } };
    const expected = observed.reduce((n, o) => n + new Set([...o.fragments.values()].map((f) => f.cid)).size + 1, 0);
    assert.equal(expected, 9, 'per instance: a bundle on each backend and the manifest copy');
    assert.equal(stats.awaitingRemoval.total, expected, 'every object (bundle) and manifest copy of the study');
    assert.equal(stats.awaitingRemoval.bestEffort, expected);
    assert.equal(stats.awaitingRemoval.failed, 0);
    const table = await runAegis(['stats', '--config', configFile], { unset: ['AEGIS_DATA_DIR', 'AEGIS_CONFIG'] });
    assert.match(table.stdout, new RegExp(`^fragments awaiting physical removal\\s+${expected}$`, 'm'));
  });
});

describe('a STOW write that fails part-way', () => {
  it('leaves no visible instance, destroys its shred key and records every fragment it wrote on IPFS for removal', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'aegis-broken-'));
    const blocker = join(scratch, 'not-a-folder');
    await writeFile(blocker, 'a file where the fs backend wants its folder');
    const gw = await startTestGateway({
      backends: [
        { name: 'ipfs-a', kind: 'ipfs', url: ipfs.url, timeoutSeconds: 10 },
        { name: 'broken', kind: 'fs', path: blocker },
      ],
      placement: { instances: 'ipfs-a', regions: ['ipfs-a', 'broken'] },
    });
    try {
      const study = newUid();
      const res = await stow(gw.dicomWebUrl, [syntheticInstance({ studyInstanceUID: study, seed: 9, rows: 24, columns: 20 })]);
      // A backend at fault, not the instance: 503, which tells the client to come back.
      assert.equal(res.status, 503, JSON.stringify(res.json));
      const search = await fetch(`${gw.dicomWebUrl}/studies/${study}/instances`);
      assert.equal(search.status, 200);
      assert.deepEqual(await search.json(), [], 'QIDO finds no instance');
      const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
      const vault = ShredKeyVault.open(shredKeyVaultFile(gw.dataDir));
      try {
        assert.deepEqual(await catalog.listInstances({ study }), []);
        assert.equal(vault.count(), 0, 'the shred key of the failed write is destroyed');
        const ledger = await catalog.db.selectFrom('removal_ledger').selectAll().execute();
        // skeleton, identity, labels and region 0 go to ipfs-a in one bundle; region 1 to the broken folder.
        assert.deepEqual(
          ledger.map((r) => [r.backend, r.status]),
          [['ipfs-a', 'best-effort']],
          JSON.stringify(ledger),
        );
        for (const row of ledger) assert.match(row.locator, /^baf/);
      } finally {
        vault.close();
        await catalog.close();
      }
    } finally {
      await gw.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  });
});

describe('a DELETE interrupted after the shred keys went', () => {
  it('leaves an instance that no longer opens, never an erasure undone; repeating the DELETE finishes it', async () => {
    const gw = await startTestGateway({ protection: { verifiedCacheMiB: 0 } });
    try {
      const study = newUid();
      const bytes = syntheticInstance({ studyInstanceUID: study, seed: 11, rows: 16, columns: 16 });
      const res = await stow(gw.dicomWebUrl, [bytes]);
      assert.equal(res.status, 200);
      const url = res.json!['00081199'].Value[0]['00081190'].Value[0] as string;
      // The catalog refuses to remove instance rows, as when the disk fails or the process dies midway.
      const catalogFile = join(gw.dataDir, 'catalog.sqlite');
      const db = openSqlite(catalogFile);
      db.exec("CREATE TRIGGER interrupt_delete BEFORE DELETE ON instances BEGIN SELECT RAISE(ABORT, 'interrupted'); END");
      try {
        assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${study}`, { method: 'DELETE' })).status, 500);
      } finally {
        db.exec('DROP TRIGGER interrupt_delete');
        db.close();
      }
      const vault = ShredKeyVault.open(shredKeyVaultFile(gw.dataDir));
      try {
        assert.equal(vault.count(), 0, 'the shred key went before the catalog row');
      } finally {
        vault.close();
      }
      const read = await fetch(url, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      assert.equal(read.status, 502, 'the instance still listed does not open');
      assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${study}`, { method: 'DELETE' })).status, 204, 'the DELETE repeated');
      assert.equal((await fetch(url)).status, 404);
      const destruction = (await readTrail(gw.dataDir)).events.filter((e) => e.operation === 'key-destruction');
      assert.deepEqual(
        destruction.map((e) => [e.outcome, e.reason]),
        [
          ['success', 'crypto-shredding: shred keys of 1 instances destroyed'],
          ['success', 'crypto-shredding: shred keys of 0 instances destroyed'],
        ],
      );
    } finally {
      await gw.stop();
    }
  });
});
