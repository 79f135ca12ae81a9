/**
 * The protection pipeline without storage: every corpus file the parser accepts is split (identity
 * and pixels out of the skeleton), sealed (hardened) or not (paper), reassembled byte-identical;
 * any bit flipped in any fragment, a swapped fragment, or an altered manifest is refused.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import type { ParsedInstance } from '../../../gateway/dicom/types.js';
import { isGatewayError } from '../../../gateway/errors.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import { MemoryShredKeyStore } from '../../../gateway/keys/instance-keys.js';
import type { MasterKey } from '../../../gateway/keys/master-key.js';
import { createSecretKey } from 'node:crypto';
import { signManifest, verifyManifest, type FragmentRecord, type Manifest, type ProtectionMode } from '../../../gateway/protection/manifest.js';
import { protectInstance } from '../../../gateway/protection/protect.js';
import { fragmentKey, reassembleInstance } from '../../../gateway/protection/reassemble.js';
import { corpusFiles } from '../../support/corpus.js';

function keyring(): Keyring {
  const key: MasterKey = { id: 'k1', secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false } as MasterKey;
  return new Keyring([key], key).useShredKeys(new MemoryShredKeyStore());
}

/** Protects, "stores" (in a map) and signs, as the store service will. */
function protect(bytes: Uint8Array, parsed: ParsedInstance, mode: ProtectionMode, ring: Keyring) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { body, fragments } = protectInstance(bytes, parsed, sha256, { mode, regions: 3, gatewayId: 'test', keyring: ring });
  const stored = new Map<string, Uint8Array>();
  const records: FragmentRecord[] = fragments.map((f) => {
    stored.set(fragmentKey(f), f.bytes);
    return { role: f.role, index: f.index, backend: 'local', locator: `x/${f.role}-${f.index}`, length: f.bytes.length, sha256: createHash('sha256').update(f.bytes).digest('hex') };
  });
  return { manifest: signManifest({ ...body, fragments: records }, ring), stored };
}

const accepted = corpusFiles().flatMap((file) => {
  const bytes = readFileSync(file);
  try {
    return [{ file, bytes, parsed: parseInstance(bytes) }];
  } catch {
    return [];
  }
});

describe('protection pipeline', () => {
  const ring = keyring();
  for (const mode of ['hardened', 'paper'] as const) {
    it(`${mode}: every accepted corpus file comes back byte-identical`, () => {
      assert.ok(accepted.length > 100, `corpus (${accepted.length})`);
      for (const { file, bytes, parsed } of accepted) {
        const { manifest, stored } = protect(bytes, parsed, mode, ring);
        const body = verifyManifest(JSON.parse(JSON.stringify(manifest)) as Manifest, ring, parsed.sopInstanceUID);
        const back = reassembleInstance(body, stored, ring);
        assert.ok(Buffer.from(back).equals(bytes), `${file} round trip`);
        const skeleton = stored.get('skeleton:0')!;
        if (!parsed.deflated && mode === 'paper') {
          const name = parsed.metadata['00100010']?.Value?.[0] as { Alphabetic?: string } | undefined;
          if (name?.Alphabetic && name.Alphabetic.length >= 4) assert.ok(!Buffer.from(skeleton).includes(name.Alphabetic), `${file}: no patient name in the skeleton`);
        }
      }
    });
  }

  it('refuses any flipped bit in any fragment, swapped fragments, and an altered manifest', () => {
    const samples = accepted.filter((a) => /CT_small|MR_small\.dcm|SC_rgb_rle_2frame|JPEG2000\.dcm/.test(a.file));
    assert.ok(samples.length >= 3, 'samples');
    let refused = 0;
    for (const { bytes, parsed } of samples) {
      for (const mode of ['hardened', 'paper'] as const) {
        const { manifest, stored } = protect(bytes, parsed, mode, ring);
        const body = verifyManifest(manifest, ring);
        for (let n = 0; n < 60; n++) {
          const keys = [...stored.keys()].filter((k) => stored.get(k)!.length > 0);
          const key = keys[n % keys.length];
          const copy = new Map(stored);
          const bytesOf = Buffer.from(copy.get(key)!);
          const bit = Math.floor(Math.random() * bytesOf.length * 8);
          bytesOf[bit >> 3] ^= 1 << (bit & 7);
          copy.set(key, bytesOf);
          assert.throws(
            () => reassembleInstance(body, copy, ring),
            (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
            `${mode}: a flipped bit in ${key}`,
          );
          refused++;
        }
        const regions = [...stored.keys()].filter((k) => k.startsWith('region:'));
        const swapped = new Map(stored);
        swapped.set(regions[0], stored.get(regions[1])!);
        swapped.set(regions[1], stored.get(regions[0])!);
        assert.throws(
          () => reassembleInstance(body, swapped, ring),
          (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
          `${mode}: swapped regions`,
        );
        const altered = JSON.parse(JSON.stringify(manifest)) as Manifest;
        altered.cuts.identity[0].offset += 1;
        assert.throws(
          () => verifyManifest(altered, ring),
          (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
          `${mode}: an altered manifest`,
        );
      }
    }
    assert.ok(refused >= 360, `refused ${refused}`);
  });

  it('paper mode: a changed pixel whose fragment hash is rewritten to match is still refused (watermark MAC, then the whole SHA-256)', () => {
    // The read path checks the watermark's MAC against the pixel digest the manifest records and
    // relies on the final SHA-256 of the whole instance for the restored pixels: both must hold.
    const { bytes, parsed } = accepted.find((a) => /CT_small/.test(a.file))!;
    const { manifest, stored } = protect(bytes, parsed, 'paper', ring);
    const body = verifyManifest(manifest, ring);
    assert.equal(body.pixels.kind, 'segmented', 'CT_small is segmented');
    assert.equal(body.pixels.watermark?.applied, true, 'and watermarked');
    let refused = 0;
    for (const key of [...stored.keys()].filter((k) => k.startsWith('region:'))) {
      const region = stored.get(key)!;
      // The first bytes of region 0 are watermark carriers (background first); the others are not.
      for (const at of [0, 1, Math.floor(region.length / 2), region.length - 1]) {
        const changed = Buffer.from(region);
        changed[at] ^= 0x01;
        const copy = new Map(stored).set(key, changed);
        const records = body.fragments.map((f) => (fragmentKey(f) === key ? { ...f, sha256: createHash('sha256').update(changed).digest('hex') } : f));
        assert.throws(
          () => reassembleInstance({ ...body, fragments: records }, copy, ring),
          (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
          `byte ${at} of ${key}`,
        );
        refused++;
      }
    }
    assert.ok(refused >= 8, `refused ${refused}`);
  });

  it('a fragment of another instance does not pass, even recorded in the manifest (sealed under another key and AAD)', () => {
    const [a, b] = accepted.filter((x) => /CT_small|MR_small\.dcm/.test(x.file));
    const pa = protect(a.bytes, a.parsed, 'hardened', ring);
    const pb = protect(b.bytes, b.parsed, 'hardened', ring);
    // Take b's skeleton record and bytes into a's manifest: sizes and hashes then match the record.
    const forged = { ...verifyManifest(pa.manifest, ring) };
    forged.fragments = forged.fragments.map((f) => (f.role === 'skeleton' ? pb.manifest.fragments.find((g) => g.role === 'skeleton')! : f));
    const stored = new Map(pa.stored);
    stored.set('skeleton:0', pb.stored.get('skeleton:0')!);
    assert.throws(
      () => reassembleInstance(forged, stored, ring),
      (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
      'the AAD binds the fragment to its instance',
    );
  });
});
