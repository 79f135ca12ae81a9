/**
 * `aegis scrub` over bundles: the object holding an instance's fragments on a backend is read once
 * and each fragment's slice checked against its recorded length and SHA-256, so that a fault names
 * the fragment it hit; a bundle that is gone faults every fragment in it, and the instance is
 * reported unreadable once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FragmentStore } from '../../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../../adapters/fs/fs-store.js';
import { Catalog } from '../../../../gateway/catalog/catalog.js';
import { parseInstance } from '../../../../gateway/dicom/parse.js';
import { MemoryShredKeyStore } from '../../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { createLogger } from '../../../../gateway/logger.js';
import type { WholeFragmentRecord } from '../../../../gateway/protection/manifest.js';
import { scrub } from '../../../../gateway/services/admin/scrub.js';
import { withGatewayErrors } from '../../../../gateway/services/backends.js';
import { writeProtected } from '../../../../gateway/services/protected-fragments.js';
import { newUid, syntheticInstance } from '../../../fixtures/synthetic.js';
import { catalogInstance } from '../../../support/catalog-instance.js';
import { memoryKey } from '../../../support/audit.js';

describe('scrub of fragment bundles', () => {
  let dir: string;
  let catalog: Catalog;
  let gets = 0;
  let stores: Map<string, FragmentStore>;
  const key = memoryKey('k1');
  const keyring = new Keyring([key], key).useShredKeys(new MemoryShredKeyStore());
  let sop: string;
  let bundle: string;
  let fragments: WholeFragmentRecord[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-scrub-bundles-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    const local = withGatewayErrors(new FsFragmentStore({ name: 'local', path: join(dir, 'local') }));
    const counting = Object.assign(Object.create(local) as FragmentStore, { get: (locator: string, options?: object) => (gets++, local.get(locator, options)) });
    stores = new Map([['local', counting]]);
    const bytes = syntheticInstance({ studyInstanceUID: newUid(), rows: 32, columns: 32, seed: 3 });
    const parsed = parseInstance(bytes);
    sop = parsed.sopInstanceUID;
    const written = await writeProtected(
      { stores, placement: { instances: 'local', regions: ['local'] }, protection: { mode: 'hardened', regions: 2, gatewayId: 'test' }, keyring, logger: createLogger('silent') },
      bytes,
      parsed,
      createHash('sha256').update(bytes).digest('hex'),
    );
    fragments = written.manifest.fragments as WholeFragmentRecord[];
    bundle = join(dir, 'local', fragments[0].locator);
    await catalog.addInstance({ ...catalogInstance(parsed.studyInstanceUID, parsed.seriesInstanceUID, sop), backend: written.backend, key: written.key, locator: written.locator, manifest: JSON.stringify(written.manifest) });
  });
  after(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the bundle once and checks every fragment in it', async () => {
    gets = 0;
    const report = await scrub({ catalog, stores, keyring });
    assert.equal(gets, 1, 'one read for the five fragments');
    assert.deepEqual(report.faults, []);
    assert.deepEqual(report.unreadable, []);
    assert.equal(report.pieces, 5);
    assert.equal(
      report.bytes,
      fragments.reduce((n, f) => n + f.length, 0),
      'the bundle read once',
    );
    assert.deepEqual(report.backends.local, { pieces: 5, bytes: report.bytes, missing: 0, corrupt: 0, unavailable: 0 });
  });

  it('a byte changed in one fragment faults that fragment only; a bundle a byte short faults the last; a bundle gone faults each', async () => {
    const original = await readFile(bundle);
    const region = fragments.find((f) => f.role === 'region' && f.index === 0)!;
    const changed = Buffer.from(original);
    changed[region.offset! + 5] ^= 0x10;
    await writeFile(bundle, changed);
    let report = await scrub({ catalog, stores, keyring });
    assert.deepEqual(
      report.faults.map((f) => [f.sopInstanceUid, f.fragment, f.backend, f.problem]),
      [[sop, 'region:0', 'local', 'corrupt']],
    );
    assert.deepEqual(report.unreadable, [{ sopInstanceUid: sop, reason: 'fragment region:0 has 0 intact pieces, too few to read' }]);

    await writeFile(bundle, original.subarray(0, original.length - 1));
    report = await scrub({ catalog, stores, keyring });
    assert.deepEqual(
      report.faults.map((f) => [f.fragment, f.problem]),
      [['region:1', 'corrupt']],
    );
    assert.match(report.faults[0].detail, /^fragment region:1 \(\d+ bytes at \d+\) lies beyond the \d+ bytes of its object$/);

    await writeFile(bundle, Buffer.concat([original, Buffer.from('x')]));
    report = await scrub({ catalog, stores, keyring });
    assert.deepEqual(
      report.faults.map((f) => [f.fragment, f.problem, f.detail]),
      [['region:1', 'corrupt', 'fragment region:1 is followed by 1 bytes that no fragment records']],
    );

    await rm(bundle);
    report = await scrub({ catalog, stores, keyring });
    assert.deepEqual(
      report.faults.map((f) => [f.fragment, f.problem]),
      fragments.map((f) => [`${f.role}:${f.index}`, 'missing']),
    );
    assert.equal(report.unreadable.length, 1, 'the instance once');
    assert.equal(report.backends.local.missing, 5);

    await writeFile(bundle, original);
    report = await scrub({ catalog, stores, keyring });
    assert.deepEqual(report.faults, []);
  });
});
