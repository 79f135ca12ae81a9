/**
 * Issue 3, acceptance 2, checked on the raw files the backends hold: after the pydicom corpus is
 * stored (hardened mode, regions on two more backends), no stored file contains the PatientName,
 * PatientID or another identity value of the corpus, nor any 32-byte run of original pixel data
 * with at least 8 distinct byte values. In paper mode (no encryption) each region backend holds
 * exactly its region's pixel bytes: as many as the manifest's label counts say, and nothing else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { parseInstance } from '../../gateway/dicom/parse.js';
import type { ParsedInstance } from '../../gateway/dicom/types.js';
import { corpusFiles } from '../support/corpus.js';
import { stow } from '../support/dicomweb.js';
import { startTestGateway } from '../support/in-process.js';

const BACKENDS = [
  { name: 'local', kind: 'fs' },
  { name: 'region-a', kind: 'fs' },
  { name: 'region-b', kind: 'fs' },
];

interface Sample {
  bytes: Buffer;
  parsed: ParsedInstance;
}

function accepted(): Sample[] {
  const seen = new Set<string>();
  return corpusFiles().flatMap((file) => {
    const bytes = readFileSync(file);
    try {
      const parsed = parseInstance(bytes);
      if (!parsed.studyInstanceUID || seen.has(parsed.sopInstanceUID)) return [];
      seen.add(parsed.sopInstanceUID);
      return [{ bytes, parsed }];
    } catch {
      return [];
    }
  });
}

/** Every file under `dir`, with its bytes. */
async function filesUnder(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push({ path: join(entry.parentPath, entry.name), bytes: await readFile(join(entry.parentPath, entry.name)) });
  }
  return out;
}

/**
 * Identity values of an instance's top-level patient and study attributes, of at least 6 bytes:
 * a shorter string turns up by chance in tens of megabytes of ciphertext (a given 4-byte string
 * about once per 4 GB of random bytes, so one of dozens of them in 50 MB: a false alarm).
 */
function identityValues(parsed: ParsedInstance): string[] {
  const values: string[] = [];
  for (const tag of ['00100010', '00100020', '00100030', '00080090', '00080080', '00080050', '00200010', '00101000', '00101040']) {
    for (const v of parsed.metadata[tag]?.Value ?? []) {
      const text = typeof v === 'object' && v !== null ? String((v as { Alphabetic?: string }).Alphabetic ?? '') : String(v);
      if (Buffer.byteLength(text.trim(), 'latin1') >= 6) values.push(text.trim());
    }
  }
  return values;
}

/** 32-bit hashes of the 32-byte windows at every `step`-th offset of `bytes` with at least 8 distinct byte values. */
function windowHashes(bytes: Uint8Array, step: number, into: Map<number, Array<[Uint8Array, number]>>): void {
  for (let at = 0; at + 32 <= bytes.length; at += step) {
    const window = bytes.subarray(at, at + 32);
    if (new Set(window).size < 8) continue;
    const h = hash32(window);
    const list = into.get(h);
    if (list) list.push([bytes, at]);
    else into.set(h, [[bytes, at]]);
  }
}

const BASE = 257;
const MOD = 2 ** 31 - 1;
/** BASE^31 mod MOD, to roll the hash. */
const TOP = (() => {
  let p = 1;
  for (let i = 0; i < 31; i++) p = (p * BASE) % MOD;
  return p;
})();

function hash32(window: Uint8Array): number {
  let h = 0;
  for (const b of window) h = (h * BASE + b) % MOD;
  return h;
}

/** Positions of `haystack` where a 32-byte window equals one of the needles (rolling hash, then exact compare). */
function findLeaks(haystack: Uint8Array, needles: Map<number, Array<[Uint8Array, number]>>): number {
  if (haystack.length < 32) return 0;
  let h = hash32(haystack.subarray(0, 32));
  let leaks = 0;
  for (let at = 0; ; at++) {
    const candidates = needles.get(h);
    if (candidates) {
      for (const [bytes, offset] of candidates) if (Buffer.compare(bytes.subarray(offset, offset + 32), haystack.subarray(at, at + 32)) === 0) leaks++;
    }
    if (at + 32 >= haystack.length) return leaks;
    h = (((h - ((haystack[at] * TOP) % MOD) + MOD) % MOD) * BASE + haystack[at + 32]) % MOD;
  }
}

describe('what the backends hold', () => {
  it('hardened: no identity value and no 32-byte run of original pixels in any stored file', { timeout: 600_000 }, async () => {
    const samples = accepted();
    assert.ok(samples.length > 100, `corpus (${samples.length})`);
    const gateway = await startTestGateway({ backends: BACKENDS, placement: { instances: 'local', regions: ['region-a', 'region-b'] } });
    try {
      let stored = 0;
      for (const { bytes } of samples) {
        const res = await stow(gateway.dicomWebUrl, [bytes]);
        // 202: stored with a warning (pixel data kept as opaque bytes).
        assert.ok(res.status === 200 || res.status === 202 || res.status === 409, `STOW answered ${res.status}`);
        if (res.status !== 409) stored++;
      }
      const files = await filesUnder(join(gateway.dataDir, 'stores'));
      const local = files.filter((f) => f.path.startsWith(join(gateway.dataDir, 'stores', 'local') + sep));
      assert.ok(stored > 100, `instances stored (${stored})`);
      assert.equal(local.length, stored * 2, 'the instances backend holds a bundle and a manifest copy per instance');
      assert.ok(files.length > local.length, `and the region backends the regions (${files.length} files)`);
      const everything = Buffer.concat(files.map((f) => f.bytes));
      const identity = new Set(samples.flatMap((s) => identityValues(s.parsed)));
      assert.ok(identity.size >= 30, `identity values to look for (${identity.size})`);
      for (const value of identity) assert.ok(!everything.includes(Buffer.from(value, 'latin1')), `no stored file holds '${value}'`);
      const needles = new Map<number, Array<[Uint8Array, number]>>();
      let pixelBytes = 0;
      for (const { bytes, parsed } of samples) {
        const layout = parsed.pixelData;
        if (!layout || parsed.deflated) continue;
        const start = layout.encapsulated ? layout.frames[0]?.[0]?.[0] : layout.offset;
        if (start === undefined) continue;
        const pixels = bytes.subarray(start);
        pixelBytes += pixels.length;
        windowHashes(pixels, 4, needles);
      }
      assert.ok(needles.size > 10_000, `pixel windows to look for (${needles.size} from ${pixelBytes} bytes)`);
      let leaks = 0;
      for (const file of files) leaks += findLeaks(file.bytes, needles);
      assert.equal(leaks, 0, 'no 32-byte run of original pixel data in any stored file');
    } finally {
      await gateway.stop();
    }
  });

  it("paper mode: each region backend holds its region's pixel bytes only, as many as the label counts say", { timeout: 300_000 }, async () => {
    const samples = accepted().filter((s) => s.parsed.pixelData?.encapsulated === false && !s.parsed.deflated);
    const gateway = await startTestGateway({ backends: BACKENDS, placement: { instances: 'local', regions: ['region-a', 'region-b'] }, protection: { mode: 'paper' } });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      let segmented = 0;
      for (const { bytes, parsed } of samples.slice(0, 40)) {
        const res = await stow(gateway.dicomWebUrl, [bytes]);
        if (res.status !== 200) continue;
        const manifest = JSON.parse((await catalog.findInstance(parsed.sopInstanceUID))!.manifest!) as {
          mode: string;
          pixels: { kind: string; geometry?: { samplesPerPixel: number; bitsAllocated: number }; split?: { frames: Array<{ counts: number[] }> } };
          fragments: Array<{ role: string; index: number; backend: string; locator: string; length: number }>;
        };
        assert.equal(manifest.mode, 'paper');
        if (manifest.pixels.kind !== 'segmented') continue;
        segmented++;
        const { samplesPerPixel, bitsAllocated } = manifest.pixels.geometry!;
        const bytesPerPixel = (samplesPerPixel * bitsAllocated) / 8;
        for (const region of manifest.fragments.filter((f) => f.role === 'region')) {
          assert.equal(region.backend, region.index % 2 === 0 ? 'region-a' : 'region-b', 'region i on regions[i mod n]');
          const pixels = manifest.pixels.split!.frames.reduce((n, f) => n + (f.counts[region.index] ?? 0), 0);
          const stored = await readFile(join(gateway.dataDir, 'stores', region.backend, region.locator));
          assert.equal(stored.length, pixels * bytesPerPixel, 'exactly the bytes of the pixels labelled with this region');
          for (const value of identityValues(parsed)) assert.ok(!stored.includes(Buffer.from(value, 'latin1')), 'no identity in a region');
        }
        const others = manifest.fragments.filter((f) => f.role !== 'region');
        assert.ok(
          others.every((f) => f.backend === 'local'),
          'skeleton, identity and labels stay on the instances backend',
        );
      }
      assert.ok(segmented >= 5, `segmented instances checked (${segmented})`);
    } finally {
      await catalog.close();
      await gateway.stop();
    }
  });
});
