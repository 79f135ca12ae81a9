/**
 * The gateway with a PACS as a backend: the background region (region 0) of every instance goes to
 * a real Orthanc through the `dicomweb` adapter, everything else to a folder. The python3-pydicom
 * corpus goes in through STOW-RS and reads back byte-identical; a client talking to Orthanc
 * directly finds the instances indexed under UIDs of their own, with no patient identity and no
 * pixel but the background's (the presentation); a fragment deleted or replaced
 * inside Orthanc behind the gateway's back makes its instance answer 502, with no byte of it sent,
 * and an integrity event in the audit trail.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { parseInstance } from '../../gateway/dicom/parse.js';
import { pixelGeometry } from '../../gateway/dicom/pixel-geometry.js';
import { segmentPixels } from '../../gateway/protection/segmentation/segmentation.js';
import type { Manifest, WholeFragmentRecord } from '../../gateway/protection/manifest.js';
import { RAW_DATA_STORAGE } from '../../adapters/dicomweb/fragment-instance.js';
import { runAegis } from '../support/aegis-cli.js';
import { corpusFiles } from '../support/corpus.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { changeCarriedFragment, orthancId } from '../support/pacs-fragments.js';
import { readTrail } from '../support/trail.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

let orthanc: RunningOrthanc;
let gw: TestGateway;
let gatewayConfig: Record<string, unknown>;
/** SOP Instance UID -> the bytes stored, their WADO-RS URL and the corpus file. */
const stored = new Map<string, { bytes: Buffer; url: string; file: string }>();

before(async () => {
  orthanc = await startOrthanc();
  gatewayConfig = {
    backends: [
      { name: 'local', kind: 'fs' },
      { name: 'pacs', kind: 'dicomweb', url: orthanc.dicomWebUrl, orthancUrl: orthanc.url, auth: 'none', timeoutSeconds: 10 },
    ],
    placement: { instances: 'local', regions: ['pacs', 'local'] },
    protection: { verifiedCacheMiB: 0 },
  };
  gw = await startTestGateway(gatewayConfig);
});
after(async () => {
  await gw?.stop();
  await orthanc?.stop();
});

/** The signed manifest the catalog holds for an instance. */
async function manifestOf(sop: string): Promise<Manifest> {
  const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
  try {
    const row = await catalog.findInstance(sop);
    assert.ok(row?.manifest, `instance ${sop} has a manifest`);
    return JSON.parse(row.manifest) as Manifest;
  } finally {
    await catalog.close();
  }
}

/** Orthanc's REST answer as JSON. */
async function rest(path: string, init?: RequestInit): Promise<any> {
  const response = await fetch(`${orthanc.url}${path}`, init);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return response.json();
}

/** Instances whose region 0 is on the PACS, with that fragment's record. */
async function onPacs(): Promise<Array<{ sop: string; url: string; file: string; fragment: WholeFragmentRecord }>> {
  const out = [];
  for (const [sop, { url, file }] of stored) {
    const fragment = (await manifestOf(sop)).fragments.find((f): f is WholeFragmentRecord => f.shards === undefined && f.backend === 'pacs');
    if (fragment) out.push({ sop, url, file, fragment });
  }
  return out;
}

/** Asserts a 502 with no byte of the instance, and that the trail holds an integrity event for it. */
async function expectIntegrityFailure(url: string, sop: string, what: string): Promise<void> {
  const res = await get(url, STORED);
  assert.equal(res.status, 502, what);
  assert.match(res.headers.get('content-type') ?? '', /json/);
  assert.equal(res.body.includes(Buffer.from('DICM')), false, 'no part of the instance was sent');
  let events: Awaited<ReturnType<typeof readTrail>>['events'] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    events = (await readTrail(gw.dataDir)).events.filter((e) => e.kind === 'integrity' && JSON.stringify(e).includes(sop));
    if (events.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(events.length > 0, `an integrity event names ${sop}`);
  assert.equal((events.at(-1) as { http?: { status?: number } }).http?.status, 502);
}

describe('the gateway with the background region on a PACS (Orthanc)', () => {
  it('stores the pydicom corpus through STOW-RS and reads every instance back byte-identical', async () => {
    for (const file of corpusFiles()) {
      const bytes = readFileSync(file);
      const res = await stow(gw.dicomWebUrl, [bytes]);
      // 202: stored with a warning (pixel data kept as opaque bytes); 409: refused.
      assert.ok(res.status === 200 || res.status === 202 || res.status === 409, `${file}: STOW answered ${res.status}`);
      if (res.status === 409) continue;
      const item = res.json!['00081199'].Value[0];
      stored.set(item['00081155'].Value[0], { bytes, url: item['00081190'].Value[0], file });
    }
    assert.ok(stored.size >= 50, `only ${stored.size} corpus files were stored`);
    for (const [sop, { bytes, url, file }] of stored) {
      const parts = await retrieveAsStored(url);
      assert.equal(parts.length, 1, file);
      assert.ok(parts[0].bytes.equals(bytes), `${file} (${sop}) reads back byte-identical`);
    }
  });

  it('Orthanc indexes one instance per fragment on the PACS, under UIDs that are none of the originals', async () => {
    const fragments = await onPacs();
    assert.ok(fragments.length >= 20, `only ${fragments.length} instances have a fragment on the PACS`);
    const statistics = await rest('/statistics');
    assert.equal(statistics.CountInstances, fragments.length);
    const originals = new Set<string>();
    for (const { sop } of fragments) {
      const manifest = await manifestOf(sop);
      for (const uid of [manifest.sopInstanceUid, manifest.studyInstanceUid, manifest.seriesInstanceUid]) originals.add(uid);
    }
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      for (const { sop, fragment } of fragments) assert.equal(await catalog.findPacsInstance('pacs', fragment.locator.split('/')[2]), sop, 'the catalog maps the PACS UIDs to the instance');
    } finally {
      await catalog.close();
    }
    for (const { fragment } of fragments) {
      assert.equal(fragment.role, 'region');
      assert.equal(fragment.index, 0);
      assert.match(fragment.locator, /^2\.25\.\d+\/2\.25\.\d+\/2\.25\.\d+$/);
      for (const uid of fragment.locator.split('/')) assert.equal(originals.has(uid), false, `${uid} is an original UID`);
      const tags = await rest(`/instances/${await orthancId(orthanc, fragment.locator)}/tags?short`);
      for (const uid of originals) assert.equal(JSON.stringify(tags).includes(uid), false, 'no original UID in what Orthanc shows');
    }
  });

  it('what Orthanc shows of a segmented instance: its SOP class, no identity, and the original pixels on the background only', async () => {
    let checked = 0;
    let watermarked = 0;
    let plain = 0;
    for (const { sop, fragment } of await onPacs()) {
      const manifest = await manifestOf(sop);
      if (manifest.pixels.kind !== 'segmented') continue;
      const original = parseInstance(stored.get(sop)!.bytes);
      const layout = original.pixelData;
      assert.ok(layout && !layout.encapsulated);
      const geometry = pixelGeometry(original.metadata, layout);
      const id = await orthancId(orthanc, fragment.locator);
      const tags = await rest(`/instances/${id}/tags?short`);
      if (tags['0008,0016'] === RAW_DATA_STORAGE) {
        // No presentation (big endian, or refused by the de-identifier): the plain container shows nothing.
        assert.equal(tags['7fe0,0010'], undefined);
        assert.equal(tags['0010,0010'], '');
        plain++;
        continue;
      }
      assert.equal(tags['0008,0016'], manifest.sopClassUid, 'shown as what it is');
      for (const [tag, key] of [
        ['00100010', '0010,0010'],
        ['00100020', '0010,0020'],
        ['00100030', '0010,0030'],
      ]) {
        const value = JSON.stringify(original.metadata[tag]?.Value?.[0] ?? '');
        if (value.length > 4) assert.equal(JSON.stringify(tags).includes(value.slice(1, -1)), false, `${key} ${value} is not in what Orthanc shows`);
      }
      assert.equal(tags['0012,0062'], 'YES', 'Patient Identity Removed');
      // Pixels: per label of the original's segmentation, zero off the background, the original (but for the watermark) on it.
      if (geometry.samplesPerPixel !== 1 || (geometry.bitsAllocated !== 8 && geometry.bitsAllocated !== 16)) continue;
      const shown = Buffer.from(await (await fetch(`${orthanc.url}/instances/${id}/file`)).arrayBuffer());
      const shownLayout = parseInstance(shown).pixelData;
      assert.ok(shownLayout && !shownLayout.encapsulated);
      const width = geometry.bitsAllocated / 8;
      const pixels = geometry.rows * geometry.columns * geometry.frames;
      const originalPixels = stored.get(sop)!.bytes.subarray(layout.offset, layout.offset + pixels * width);
      const shownPixels = shown.subarray(shownLayout.offset, shownLayout.offset + pixels * width);
      const { labels } = segmentPixels(originalPixels, geometry, { regions: 2 });
      let background = 0;
      let changed = 0;
      let hidden = 0;
      for (let p = 0; p < pixels; p++) {
        const a = originalPixels.subarray(p * width, (p + 1) * width);
        const b = shownPixels.subarray(p * width, (p + 1) * width);
        if (labels[p] !== 0) {
          assert.ok(
            b.every((x) => x === 0),
            `${sop}: pixel ${p} of region ${labels[p]} is shown`,
          );
          if (!a.every((x) => x === 0)) hidden++;
        } else {
          background++;
          if (!a.equals(b)) changed++;
        }
      }
      assert.ok(background > 0 && hidden > 0, `${sop}: ${background} background pixels shown, ${hidden} others hidden`);
      // The watermark (256 payload bits) changes a bounded number of pixels, background first (where
      // the background has samples of the peak value it uses; otherwise in the hidden regions).
      assert.ok(changed <= Math.max(2048, background * 0.05) && changed < background, `${sop}: ${changed} of ${background} background pixels differ`);
      if (manifest.pixels.watermark?.applied) watermarked += changed;
      checked++;
    }
    assert.ok(checked >= 5, `only ${checked} segmented instances were checked pixel by pixel (${plain} in plain containers)`);
    assert.ok(watermarked > 0, 'the watermark shows in the background pixels Orthanc shows');
  });

  it('a fragment deleted inside Orthanc makes its instance answer 502, audited', async () => {
    const { sop, url, fragment } = (await onPacs())[0];
    assert.equal((await fetch(`${orthanc.url}/instances/${await orthancId(orthanc, fragment.locator)}`, { method: 'DELETE' })).status, 200);
    await expectIntegrityFailure(url, sop, 'a fragment deleted in the PACS');
  });

  it('a fragment replaced inside Orthanc (same UIDs, one byte of the fragment changed) makes its instance answer 502, audited', async () => {
    const { sop, url, fragment } = (await onPacs()).find((f) => f.fragment.length > 0 && f.sop !== [...stored.keys()][0])!;
    await changeCarriedFragment(orthanc, fragment.locator);
    await expectIntegrityFailure(url, sop, 'a fragment changed in the PACS');
    // The other instances still read back byte-identical.
    const other = [...stored.entries()].find(([s]) => s !== sop && s !== [...stored.keys()][0])!;
    assert.ok((await retrieveAsStored(other[1].url))[0].bytes.equals(other[1].bytes));
  });

  it('DELETE through the gateway deletes the instance inside Orthanc and its mapping', async () => {
    const { sop, fragment } = (await onPacs()).at(-1)!;
    await orthancId(orthanc, fragment.locator);
    const { url } = stored.get(sop)!;
    const response = await fetch(url, { method: 'DELETE' });
    assert.ok(response.status === 200 || response.status === 204, `DELETE answered ${response.status}`);
    assert.deepEqual(await rest('/tools/lookup', { method: 'POST', body: fragment.locator.split('/')[2] }), []);
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      assert.equal(await catalog.findPacsInstance('pacs', fragment.locator.split('/')[2]), undefined);
    } finally {
      await catalog.close();
    }
    stored.delete(sop);
  });

  it('aegis reindex restores an instance row and its PACS mapping from the manifest copy', async () => {
    const { sop, fragment } = (await onPacs()).at(-1)!;
    const instanceUid = fragment.locator.split('/')[2];
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      await catalog.db.deleteFrom('instances').where('sop_instance_uid', '=', sop).execute();
      assert.equal(await catalog.findPacsInstance('pacs', instanceUid), undefined, 'the mapping went with the row');
    } finally {
      await catalog.close();
    }
    const configFile = join(gw.dataDir, 'reindex-config.json');
    writeFileSync(configFile, JSON.stringify({ ...gatewayConfig, dataDir: gw.dataDir }));
    const run = await runAegis(['reindex'], { env: { AEGIS_CONFIG: configFile }, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_DATA_DIR'] });
    assert.equal(run.status, 0, run.stderr);
    const again = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      assert.equal(await again.findPacsInstance('pacs', instanceUid), sop);
    } finally {
      await again.close();
    }
  });
});
