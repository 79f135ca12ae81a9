/**
 * Restores a protected instance on the read path (docs/architecture.md, "Data flow"): every fragment must have
 * the length the signed manifest records and, in paper mode, its SHA-256; in hardened mode it must authenticate under
 * the instance's data key with its role and index bound; the regions are joined back into the pixel
 * data, the identity values spliced back into the skeleton, and the SHA-256 of the whole result must
 * equal the manifest's. Any failure throws INTEGRITY_FAILURE before a single byte is handed out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { spliceRanges, type ByteRange } from './split/byte-cuts.js';
import { GatewayError } from '../errors.js';
import { fragmentAad } from '../keys/associated-data.js';
import { decryptFragment, plaintextLength, SEALED_OVERHEAD } from '../keys/envelope.js';
import type { Keyring } from '../keys/keyring.js';
import { openInstanceKey } from '../keys/instance-keys.js';
import type { FragmentRecord, ManifestBody } from './manifest.js';
import { backgroundFirstPixels } from './segmentation/segmentation.js';
import { joinRegions, restoreSegmentation, type SegmentationParameters } from './split/region-split.js';
import { joinStripes, type StripeParameters } from './split/byte-stripes.js';
import { verifyAndRemoveWatermarkInPlace, watermarkKey, type WatermarkRecord } from './watermark/watermark-payload.js';
import type { PixelGeometry } from '../dicom/pixel-geometry.js';
import type { RegionSource } from './segmentation/pixel-kernels.js';
import type { PixelSplitParameters } from './split/pixel-split.js';

/** The key of a fragment in the map of fetched bytes. */
export function fragmentKey(fragment: Pick<FragmentRecord, 'role' | 'index'>): string {
  return `${fragment.role}:${fragment.index}`;
}

/** Rebuilds the exact received bytes from a verified manifest and the fetched fragments. */
export function reassembleInstance(manifest: ManifestBody, fetched: ReadonlyMap<string, Uint8Array>, keyring: Keyring): Uint8Array {
  const dataKey = manifest.mode === 'hardened' ? unwrap(manifest, keyring) : undefined;
  try {
    return reassemble(manifest, openFragments(manifest, fetched, dataKey), keyring);
  } finally {
    dataKey?.fill(0);
  }
}

function reassemble(manifest: ManifestBody, opened: ReadonlyMap<string, RegionSource>, keyring: Keyring): Uint8Array {
  const part = (role: string, index = 0): Uint8Array => {
    const bytes = opened.get(`${role}:${index}`);
    if (bytes === undefined) throw integrity(`the manifest has no ${role} fragment ${index}`);
    if (!(bytes instanceof Uint8Array)) throw integrity(`the ${role} fragment is not at hand`);
    return bytes;
  };
  const ranges: ByteRange[] = [];
  const pieces: Array<Uint8Array | null> = [];
  let identity = part('identity');
  for (const range of manifest.cuts.identity) {
    if (identity.length < range.length) throw integrity('the identity fragment is shorter than its recorded ranges');
    ranges.push(range);
    pieces.push(identity.subarray(0, range.length));
    identity = identity.subarray(range.length);
  }
  if (identity.length !== 0) throw integrity('the identity fragment is longer than its recorded ranges');
  // The instance is assembled in one buffer: the pixel data is joined (and its watermark removed) in place.
  const skeleton = part('skeleton');
  const pixelRange = manifest.cuts.pixels;
  const total = skeleton.length + [...manifest.cuts.identity, ...(pixelRange ? [pixelRange] : [])].reduce((n, r) => n + r.length, 0);
  if (total !== manifest.length) throw integrity(`the fragments make ${total} bytes, the manifest says ${manifest.length}`);
  const restored = new Uint8Array(total);
  if (pixelRange) {
    if (!(Number.isSafeInteger(pixelRange.offset) && pixelRange.offset >= 0 && pixelRange.offset + pixelRange.length <= total)) throw integrity('the pixel range lies outside the instance');
    ranges.push(pixelRange);
    pieces.push(joinPixels(manifest, opened, keyring, restored.subarray(pixelRange.offset, pixelRange.offset + pixelRange.length)));
  }
  const order = ranges.map((_, i) => i).sort((a, b) => ranges[a].offset - ranges[b].offset);
  spliceRanges(
    skeleton,
    order.map((i) => ranges[i]),
    order.map((i) => pieces[i]),
    restored,
  );
  const digest = createHash('sha256').update(restored).digest();
  const expected = Buffer.from(manifest.sha256, 'hex');
  if (digest.length !== expected.length || !timingSafeEqual(digest, expected)) {
    throw integrity('the reassembled instance does not match the SHA-256 of the received one');
  }
  return restored;
}

/**
 * Each fragment checked against its record and, in hardened mode, decrypted; the regions of
 * segmented pixels are decrypted later, straight into the pixel kernels' workspace.
 */
function openFragments(manifest: ManifestBody, fetched: ReadonlyMap<string, Uint8Array>, dataKey: Buffer | undefined): Map<string, RegionSource> {
  const opened = new Map<string, RegionSource>();
  for (const record of manifest.fragments) {
    const key = fragmentKey(record);
    const stored = fetched.get(key);
    if (stored === undefined) throw integrity(`fragment ${key} was not fetched`);
    if (stored.length !== record.length) throw integrity(`fragment ${key} has ${stored.length} bytes, the manifest says ${record.length}`);
    // Sealed fragments are authenticated by AES-GCM (bound to instance, role and index): hashing
    // them too would only cost a pass over the bytes. Plain (paper mode) fragments are hashed.
    if (dataKey === undefined) {
      if (createHash('sha256').update(stored).digest('hex') !== record.sha256) throw integrity(`fragment ${key} does not match its SHA-256`);
      opened.set(key, stored);
      continue;
    }
    const aad = fragmentAad({ sopInstanceUid: manifest.sopInstanceUid, role: record.role, index: record.index, manifestVersion: manifest.version });
    if (record.role === 'region' && manifest.pixels.kind === 'segmented') {
      if (stored.length < SEALED_OVERHEAD) throw integrity(`fragment ${key} is too short to be sealed`);
      opened.set(key, { length: plaintextLength(stored.length), fill: (into: Uint8Array) => void decryptFragment(dataKey, stored, aad, into) });
    } else {
      opened.set(key, decryptFragment(dataKey, stored, aad));
    }
  }
  return opened;
}

function unwrap(manifest: ManifestBody, keyring: Keyring): Buffer {
  if (!manifest.dataKey) throw integrity('a hardened manifest without a data key');
  return openInstanceKey(keyring, manifest.dataKey);
}

/**
 * The pixel data value: regions joined, and for segmented pixels the watermark verified and
 * removed. Segmented pixels are written into `into` (null is returned: the piece is in place);
 * other values are returned.
 */
function joinPixels(manifest: ManifestBody, opened: ReadonlyMap<string, RegionSource>, keyring: Keyring, into: Uint8Array): Uint8Array | null {
  const regions = manifest.fragments
    .filter((f) => f.role === 'region')
    .sort((a, b) => a.index - b.index)
    .map((f) => opened.get(fragmentKey(f))!);
  const { pixels } = manifest;
  const parameters = pixels.split as unknown as PixelSplitParameters;
  if (pixels.kind === 'striped') return joinStripes(regions as Uint8Array[], parameters as StripeParameters);
  if (pixels.kind !== 'segmented') throw integrity(`pixel protection '${pixels.kind}' with a pixel range`);
  const geometry = pixels.geometry as unknown as PixelGeometry;
  const labels = opened.get('labels:0');
  if (!(labels instanceof Uint8Array)) throw integrity('segmented pixel data without its label map');
  if ((parameters as SegmentationParameters).algorithm !== 'kmeans-histogram') throw integrity('segmented pixel data with striping parameters');
  const segmentation = restoreSegmentation(labels, geometry, parameters as SegmentationParameters);
  joinRegions(regions, labels, geometry, parameters as SegmentationParameters, into, segmentation);
  if (!pixels.watermark?.applied) return null;
  const { keyId, ...record } = pixels.watermark.parameters as unknown as WatermarkRecord & { keyId: string };
  const master = keyring.find(keyId);
  if (master === undefined) throw new GatewayError('KEY_NOT_FOUND', `master key '${keyId}' of a watermark is not in the keyring`);
  // The digests are trusted because reassembleInstance checks the SHA-256 of the whole instance
  // (pixels included) against the signed manifest before anything leaves: the instance's (which
  // the gateway's watermarks cover), or a recorded digest of the original pixels; without one
  // (older manifests) the restored pixels are hashed.
  const recorded = 'pixelSha256' in record ? record.pixelSha256 : undefined;
  const restoredSha256 = typeof recorded === 'string' && /^[0-9a-f]{64}$/.test(recorded) ? Buffer.from(recorded, 'hex') : undefined;
  verifyAndRemoveWatermarkInPlace(
    into,
    geometry,
    record,
    { key: watermarkKey(master.secret), sopInstanceUid: manifest.sopInstanceUid, restoredSha256, instanceSha256: Buffer.from(manifest.sha256, 'hex') },
    {
      order: (frame: number) => backgroundFirstPixels(segmentation, frame),
    },
  );
  return null;
}

function integrity(message: string): GatewayError {
  return new GatewayError('INTEGRITY_FAILURE', message);
}
