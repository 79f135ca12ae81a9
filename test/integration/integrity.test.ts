/**
 * 1,000 random single-bit flips, each in a random stored bundle of fragments, a manifest copy or
 * the catalog's manifest, and swaps of two instances' bundles. Every read of an
 * affected instance (whole instance or frames) fails with 502 and sends no byte of it; each
 * detection is in the audit trail as an integrity event; zero corrupted bytes are ever returned,
 * and once the bit is restored the instance reads back byte-identical.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { corpusFiles } from '../support/corpus.js';
import { multipartParts, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { seededRandom } from '../support/random.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const FLIPS = 1000;

interface Stored {
  bytes: Buffer;
  url: string;
  /** The file of this instance's fragments (absolute path; one bundle) and its manifest copy. */
  files: string[];
  /** How many fragments the bundle holds. */
  fragments: number;
  sop: string;
}

async function read(url: string): Promise<{ status: number; body: Buffer; contentType: string | null }> {
  const res = await fetch(url, { headers: { accept: STORED } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') };
}

describe('integrity of stored data', () => {
  let gateway: TestGateway;
  const stored: Stored[] = [];
  let catalog: Catalog;

  before(async () => {
    // No cache of verified instances: every read below reassembles and verifies from the backend.
    gateway = await startTestGateway({ protection: { verifiedCacheMiB: 0 } });
    const samples = corpusFiles().filter((f) => /\/(CT_small|MR_small|JPEG2000|SC_rgb_rle_2frame|image_dfl|OBXXXX1A)\.dcm$/.test(f));
    const instances = [...(await Promise.all(samples.map((f) => readFile(f)))), syntheticInstance({ studyInstanceUID: newUid(), rows: 40, columns: 24, seed: 5 })];
    const storeDir = join(gateway.dataDir, 'stores', 'local');
    catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    for (const bytes of instances) {
      const res = await stow(gateway.dicomWebUrl, [bytes]);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      const url = res.json!['00081199'].Value[0]['00081190'].Value[0] as string;
      const sop = url.split('/').pop()!;
      const row = await catalog.findInstance(sop);
      const manifest = JSON.parse(row!.manifest!) as { fragments: Array<{ locator: string }> };
      // Each stored object once: the bundle of the instance's fragments (one backend here), then the manifest copy.
      const objects = [...new Set(manifest.fragments.map((f) => join(storeDir, f.locator)))];
      assert.equal(objects.length, 1, 'one object holds every fragment of the instance');
      stored.push({ bytes, url, sop, fragments: manifest.fragments.length, files: [...objects, join(storeDir, row!.locator)] });
    }
    assert.ok(stored.length >= 5, `instances (${stored.length})`);
    const kinds = await Promise.all(stored.map(async (s) => (JSON.parse((await catalog.findInstance(s.sop))!.manifest!) as { pixels: { kind: string; watermark?: { applied: boolean } } }).pixels));
    assert.ok(
      kinds.some((p) => p.kind === 'segmented' && p.watermark?.applied),
      'some instances are segmented and watermarked',
    );
    assert.ok(
      kinds.some((p) => p.kind === 'striped'),
      'some are striped (encapsulated)',
    );
    assert.ok(
      kinds.some((p) => p.kind === 'opaque'),
      'one is deflated (opaque)',
    );
  });
  after(async () => {
    await catalog.close();
    await gateway.stop();
  });

  it(`${FLIPS} single-bit flips in fragments, manifest copies and catalog manifests: every read fails with 502, none returns a corrupted byte`, { timeout: 600_000 }, async () => {
    const next = seededRandom(20261128);
    let detected = 0;
    let copiesFlipped = 0;
    for (let n = 0; n < FLIPS; n++) {
      const victim = stored[Math.floor(next() * stored.length)];
      const where = next();
      if (where < 0.1) {
        // The catalog's manifest: a flipped bit in its JSON text.
        const row = (await catalog.findInstance(victim.sop))!;
        const text = Buffer.from(row.manifest!, 'utf8');
        const bit = Math.floor(next() * text.length * 8);
        text[bit >> 3] ^= 1 << (bit & 7);
        await catalog.db
          .updateTable('instances')
          .set({ manifest: text.toString('latin1') })
          .where('sop_instance_uid', '=', victim.sop)
          .execute();
        const res = await read(victim.url);
        assert.equal(res.status, 502, `flip ${n}: catalog manifest bit ${bit} of ${victim.sop}`);
        await catalog.db.updateTable('instances').set({ manifest: row.manifest }).where('sop_instance_uid', '=', victim.sop).execute();
        detected++;
        continue;
      }
      // Mostly the bundle of fragments (where the data is), sometimes the manifest copy.
      const file = where < 0.25 ? victim.files[victim.files.length - 1] : victim.files[0];
      const original = await readFile(file);
      if (original.length === 0) {
        n--; // an empty fragment (no identity values) has no bit to flip
        continue;
      }
      const flipped = Buffer.from(original);
      const bit = Math.floor(next() * flipped.length * 8);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      await writeFile(file, flipped);
      const isCopy = file === victim.files[victim.files.length - 1];
      const res = await read(victim.url);
      if (isCopy) {
        // The manifest copy is read only by `aegis reindex`; reads use the catalog's manifest.
        assert.equal(res.status, 200, `flip ${n}: a flipped manifest copy does not disturb reads`);
        assert.ok(multipartParts(res.body, res.contentType!)[0].bytes.equals(victim.bytes), 'and the instance is intact');
        copiesFlipped++;
      } else {
        assert.equal(res.status, 502, `flip ${n}: bit ${bit} of ${file}`);
        assert.equal(res.contentType, 'application/json', 'an error, not a part of the instance');
        assert.equal((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'INTEGRITY_FAILURE');
        detected++;
      }
      await writeFile(file, original);
    }
    assert.ok(detected >= FLIPS * 0.7, `detected ${detected}, manifest copies ${copiesFlipped}`);
    for (const s of stored) {
      const res = await read(s.url);
      assert.equal(res.status, 200, 'restored');
      assert.ok(multipartParts(res.body, res.contentType!)[0].bytes.equals(s.bytes), 'byte-identical after every bit was put back');
    }
  });

  it('fragment bundles swapped between two instances, a missing bundle, a bundle one byte short, and frames: 502', async () => {
    const [a, b] = stored.filter((s) => s.fragments >= 4);
    const fa = a.files[a.files.length - 2];
    const fb = b.files[b.files.length - 2];
    const [ba, bb] = await Promise.all([readFile(fa), readFile(fb)]);
    await writeFile(fa, bb);
    await writeFile(fb, ba);
    assert.equal((await read(a.url)).status, 502, 'instance A with the bundle of B');
    assert.equal((await read(b.url)).status, 502, 'instance B with the bundle of A');
    const frames = await fetch(`${a.url}/frames/1`, { headers: { accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' } });
    assert.equal(frames.status, 502, 'frames are served from verified data only');
    await writeFile(fa, ba);
    await writeFile(fb, bb);
    const bundle = await readFile(a.files[0]);
    await writeFile(a.files[0], bundle.subarray(0, bundle.length - 1));
    assert.equal((await read(a.url)).status, 502, 'a bundle one byte short');
    await rm(a.files[0]);
    assert.equal((await read(a.url)).status, 502, 'a missing bundle');
    await writeFile(a.files[0], bundle);
    assert.equal((await read(a.url)).status, 200, 'whole again');
  });

  it('every detection is an integrity event in the audit trail', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rows = await catalog.db.selectFrom('audit_events').select('event').execute();
    const integrity = rows.map((r) => JSON.parse(r.event) as Record<string, any>).filter((e) => e.kind === 'integrity');
    assert.ok(integrity.length >= FLIPS * 0.7, `integrity events: ${integrity.length}`);
    assert.ok(
      integrity.every((e) => e.http.status === 502 && e.resources.length > 0),
      'each names the instance and the 502',
    );
  });
});
