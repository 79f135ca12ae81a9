/**
 * One object per backend per instance: the whole fragments a backend holds of an instance are
 * stored as one object (a bundle), the manifest copy beside it; a read gets each object once and
 * slices the fragments out of it. Any change to a bundle (a bit flipped, a byte cut off or added,
 * the bundle of another instance, a bundle gone) fails the read with INTEGRITY_FAILURE; instances
 * written before bundles (one object per fragment, no offsets) still read; removal deletes each
 * object once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { isGatewayError } from '../../../gateway/errors.js';
import { MemoryShredKeyStore } from '../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import { createLogger } from '../../../gateway/logger.js';
import { signManifest, verifyManifest, type Manifest, type ProtectionMode, type WholeFragmentRecord } from '../../../gateway/protection/manifest.js';
import { fragmentStoreKey } from '../../../gateway/protection/placement.js';
import { withGatewayErrors } from '../../../gateway/services/backends.js';
import { readProtected, writeProtected, type ProtectionDeps } from '../../../gateway/services/protected-fragments.js';
import { removeFragments } from '../../../gateway/services/removals.js';
import { newUid, syntheticInstance } from '../../fixtures/synthetic.js';
import { seededRandom } from '../../support/random.js';
import { memoryKey } from '../../support/audit.js';

const logger = createLogger('silent');

function keyring(): Keyring {
  const key = memoryKey('k1');
  return new Keyring([key], key).useShredKeys(new MemoryShredKeyStore());
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('fragment bundles', () => {
  let dir: string;
  const ring = keyring();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-bundles-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Stores on fs backends `names` under `dir/<case>/<name>`. */
  function setup(name: string, backends: string[], placement: { instances: string; regions: string[] }, regions = 2, mode: ProtectionMode = 'hardened') {
    const root = join(dir, name);
    // As the gateway opens them: adapter errors turned into the gateway's (a missing object is NOT_FOUND).
    const stores = new Map<string, FragmentStore>(backends.map((b) => [b, withGatewayErrors(new FsFragmentStore({ name: b, path: join(root, b) }))]));
    const deps: ProtectionDeps = { stores, placement, protection: { mode, regions, gatewayId: 'test' }, keyring: ring, logger };
    return { root, stores, deps };
  }

  async function store(deps: ProtectionDeps, seed: number) {
    const bytes = syntheticInstance({ studyInstanceUID: newUid(), rows: 48, columns: 40, seed });
    const parsed = parseInstance(bytes);
    const written = await writeProtected(deps, bytes, parsed, createHash('sha256').update(bytes).digest('hex'));
    return { bytes, sop: parsed.sopInstanceUID, written, text: JSON.stringify(written.manifest) };
  }

  async function refused(deps: ProtectionDeps, text: string, sop: string, pattern?: RegExp): Promise<void> {
    await assert.rejects(readProtected(deps, text, sop), (error: unknown) => {
      assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `INTEGRITY_FAILURE, not ${String(error)}`);
      if (pattern) assert.match((error as Error).message, pattern);
      return true;
    });
  }

  it('default placement: one bundle and one manifest copy per instance, read back byte-identical', async () => {
    const { root, deps } = setup('default', ['local'], { instances: 'local', regions: ['local'] });
    const a = await store(deps, 1);
    const fragments = a.written.manifest.fragments as WholeFragmentRecord[];
    assert.deepEqual(
      fragments.map((f) => f.role),
      ['skeleton', 'identity', 'labels', 'region', 'region'],
    );
    const id = a.written.key.slice(a.written.key.lastIndexOf('/') + 1);
    assert.deepEqual(await filesUnder(join(root, 'local')), [`f/${id.slice(0, 2)}/${id}.0`, a.written.key].sort(), 'exactly two files: the bundle and the manifest copy');
    let offset = 0;
    for (const f of fragments) {
      assert.equal(f.key, fragmentStoreKey(id, 0));
      assert.equal(f.locator, f.key);
      assert.equal(f.offset, offset, `${f.role}:${f.index} at its offset`);
      offset += f.length;
    }
    const bundle = await readFile(join(root, 'local', fragments[0].locator));
    assert.equal(bundle.length, offset, 'the bundle is exactly the fragments');
    for (const f of fragments)
      assert.equal(
        createHash('sha256')
          .update(bundle.subarray(f.offset, f.offset! + f.length))
          .digest('hex'),
        f.sha256,
      );
    assert.ok(Buffer.from(await readProtected(deps, a.text, a.sop)).equals(a.bytes));
  });

  it('regions on two other backends: each backend holds one object of the instance', async () => {
    const { root, stores, deps } = setup('spread', ['home', 'east', 'west'], { instances: 'home', regions: ['east', 'west'] }, 4);
    const a = await store(deps, 2);
    const fragments = a.written.manifest.fragments as WholeFragmentRecord[];
    assert.deepEqual(
      fragments.map((f) => `${f.role}:${f.index}@${f.backend}+${f.offset}`),
      [
        `skeleton:0@home+0`,
        `identity:0@home+${fragments[0].length}`,
        `labels:0@home+${fragments[0].length + fragments[1].length}`,
        'region:0@east+0',
        'region:1@west+0',
        `region:2@east+${fragments[3].length}`,
        `region:3@west+${fragments[4].length}`,
      ],
    );
    assert.equal((await filesUnder(join(root, 'home'))).length, 2, 'home: the bundle and the manifest copy');
    assert.equal((await filesUnder(join(root, 'east'))).length, 1, 'east: one object');
    assert.equal((await filesUnder(join(root, 'west'))).length, 1, 'west: one object');
    // One get per object.
    let gets = 0;
    const counting = new Map([...stores].map(([name, s]) => [name, Object.assign(Object.create(s) as FragmentStore, { get: (locator: string, options?: object) => (gets++, s.get(locator, options)) })]));
    assert.ok(Buffer.from(await readProtected({ ...deps, stores: counting }, a.text, a.sop)).equals(a.bytes));
    assert.equal(gets, 3, 'three objects read');

    // A region bundle gone from its backend: INTEGRITY_FAILURE naming its fragments.
    const east = join(root, 'east', fragments[3].locator);
    const kept = await readFile(east);
    await rm(east);
    await refused(deps, a.text, a.sop, /region:0.*region:2.*missing from backend east|region:0.*missing from backend east/);
    await writeFile(east, kept);
    assert.ok(Buffer.from(await readProtected(deps, a.text, a.sop)).equals(a.bytes), 'whole again');

    // Removal deletes each object once.
    const deleted: string[] = [];
    const recording = new Map([...stores].map(([name, s]) => [name, Object.assign(Object.create(s) as FragmentStore, { delete: (locator: string) => (deleted.push(`${name}:${locator}`), s.delete(locator)) })]));
    await removeFragments({ stores: recording, logger, keyring: ring }, a.text, { backend: a.written.backend, locator: a.written.locator });
    assert.equal(deleted.length, 4, `each object once: ${deleted.join(', ')}`);
    for (const name of ['home', 'east', 'west']) assert.deepEqual(await filesUnder(join(root, name)), [], `${name} is empty`);
  });

  for (const mode of ['hardened', 'paper'] as const) {
    it(`${mode}: a bit flipped anywhere in a bundle, a bundle one byte short or long, bundles of two instances swapped: INTEGRITY_FAILURE`, async () => {
      const { root, deps } = setup(`tamper-${mode}`, ['local'], { instances: 'local', regions: ['local'] }, 2, mode);
      const [a, b] = [await store(deps, 3), await store(deps, 4)];
      const fileOf = (x: typeof a) => join(root, 'local', (x.written.manifest.fragments[0] as WholeFragmentRecord).locator);
      const original = await readFile(fileOf(a));
      const next = seededRandom(7);
      const bits = [0, original.length * 8 - 1, ...Array.from({ length: 60 }, () => Math.floor(next() * original.length * 8))];
      for (const bit of bits) {
        const flipped = Buffer.from(original);
        flipped[bit >> 3] ^= 1 << (bit & 7);
        await writeFile(fileOf(a), flipped);
        await refused(deps, a.text, a.sop);
      }
      await writeFile(fileOf(a), original.subarray(0, original.length - 1));
      await refused(deps, a.text, a.sop, /fragment region:1/);
      await writeFile(fileOf(a), Buffer.concat([original, Buffer.from([0])]));
      await refused(deps, a.text, a.sop);
      const other = await readFile(fileOf(b));
      await writeFile(fileOf(a), other);
      await writeFile(fileOf(b), original);
      await refused(deps, a.text, a.sop);
      await refused(deps, b.text, b.sop);
      await writeFile(fileOf(a), original);
      await writeFile(fileOf(b), other);
      assert.ok(Buffer.from(await readProtected(deps, a.text, a.sop)).equals(a.bytes), 'a whole again');
      assert.ok(Buffer.from(await readProtected(deps, b.text, b.sop)).equals(b.bytes), 'b whole again');
    });
  }

  it('an instance stored before bundles (one object per fragment, no offsets) still reads', async () => {
    const { root, stores, deps } = setup('old', ['local'], { instances: 'local', regions: ['local'] });
    const a = await store(deps, 5);
    const body = verifyManifest(a.written.manifest, ring, a.sop);
    const bundle = await readFile(join(root, 'local', (body.fragments[0] as WholeFragmentRecord).locator));
    const id = a.written.key.slice(a.written.key.lastIndexOf('/') + 1);
    const fragments = await Promise.all(
      (body.fragments as WholeFragmentRecord[]).map(async ({ offset = 0, ...f }, n) => {
        const key = fragmentStoreKey(id, n);
        await stores.get('local')!.put(key, bundle.subarray(offset, offset + f.length));
        return { ...f, key, locator: key };
      }),
    );
    const old: Manifest = signManifest({ ...body, fragments }, ring);
    assert.ok(
      old.fragments.every((f) => !Object.hasOwn(f, 'offset')),
      'no offsets',
    );
    assert.ok(Buffer.from(await readProtected(deps, JSON.stringify(old), a.sop)).equals(a.bytes));
    const region = join(root, 'local', fragments[3].locator);
    await rm(region);
    await refused(deps, JSON.stringify(old), a.sop, /fragment region:0 is missing from backend local/);
  });
});
