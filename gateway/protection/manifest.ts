/**
 * The manifest of a protected instance: a versioned record of everything
 * needed to restore and verify it — original length and SHA-256, transfer syntax, the byte ranges
 * cut out (identity, pixels), how the pixels were split and watermarked, the wrapped data key (and
 * the id of its shred key), and the fragments (role, index, backend, locator, length, SHA-256 of the
 * stored bytes, and the offset of those bytes in the object stored under the locator when that
 * object holds several fragments; or, for a fragment kept with k-of-n redundancy, the same of each
 * of its shards). Signed with
 * HMAC-SHA-256 under a key derived (HKDF, RFC 5869) from a master key, whose id the signature
 * names: a manifest altered anywhere, or moved to another instance, does not verify.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../keys/derive.js';
import { canonicalJson, type JsonValue } from '../canonical-json.js';
import type { ByteRange } from './split/byte-cuts.js';
import { GatewayError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import type { RecordedDataKey } from '../keys/instance-keys.js';

/** The manifest format this code writes. */
export const MANIFEST_VERSION = 1;

/** Hardened (encrypted fragments, the default) or paper (the paper's plain regions; weaker, for experiments). */
export type ProtectionMode = 'hardened' | 'paper';

/** What every fragment record says: which fragment, and its bytes as stored (sealed in hardened mode). */
interface FragmentFacts {
  /** `skeleton`, `identity`, `labels` or `region` (with `index` the region number). */
  role: string;
  index: number;
  /** Bytes as stored (sealed in hardened mode). */
  length: number;
  /** SHA-256 (hex) of the stored bytes. */
  sha256: string;
}

/** Where one piece of stored bytes is: a whole fragment, or one shard of it. */
export interface StoredPiece {
  backend: string;
  /** The key the backend was asked to store it under (absent in manifests written before keys were kept apart). */
  key?: string;
  /** What the backend returned to read it with: the key, or a content address (an IPFS CID). */
  locator: string;
  /** Bytes as stored. */
  length: number;
  /** SHA-256 (hex) of the stored bytes. */
  sha256: string;
  /**
   * Where the bytes start in the object under `locator`, when that object is a bundle of the
   * fragments of one instance on one backend (`length` bytes from here); absent: the whole object.
   */
  offset?: number;
}

/**
 * A fragment stored whole on one backend: an object of its own (no `offset`: manifests written
 * before bundles, and fragments on a PACS), or a slice of its instance's bundle on that backend.
 */
export interface WholeFragmentRecord extends FragmentFacts, Omit<StoredPiece, 'length' | 'sha256'> {
  shards?: undefined;
}

/** One shard of a fragment kept with redundancy: shard `index` (data shards first, then parity). */
export interface ShardRecord extends StoredPiece {
  index: number;
}

/**
 * A fragment kept with k-of-n redundancy (`erasure.ts`): `length` and `sha256` are the fragment's,
 * each shard has its own; any `k` intact shards rebuild it.
 */
export interface ShardedFragmentRecord extends FragmentFacts {
  redundancy: { scheme: 'erasure' | 'replication'; k: number; n: number };
  shards: ShardRecord[];
}

/** One stored fragment. */
export type FragmentRecord = WholeFragmentRecord | ShardedFragmentRecord;

/**
 * The pieces of stored bytes a fragment record names: the fragment itself (with its offset when it
 * is a slice of a bundle), or its shards. Several pieces of one instance may name one object.
 */
export function storedPieces(fragment: FragmentRecord): StoredPiece[] {
  if (fragment.shards !== undefined) return fragment.shards;
  const { backend, key, locator, length, sha256, offset } = fragment;
  return [{ backend, key, locator, length, sha256, ...(offset === undefined ? {} : { offset }) }];
}

/** The distinct objects (backend and locator) that the fragments of a manifest are stored in. */
export function storedObjects(fragments: readonly FragmentRecord[]): Array<{ backend: string; locator: string }> {
  const objects = new Map<string, { backend: string; locator: string }>();
  for (const { backend, locator } of fragments.flatMap(storedPieces)) objects.set(`${backend}\0${locator}`, { backend, locator });
  return [...objects.values()];
}

/** How the pixel data was protected. */
export interface PixelProtection {
  /** `segmented`: native pixels split by region; `striped`: bytes striped across the regions; `none`: no pixel data; `opaque`: left in the skeleton. */
  kind: 'segmented' | 'striped' | 'none' | 'opaque';
  /** Why not segmented (encapsulated, deflated, a format the segmenter refuses, ...). */
  reason?: string;
  /** The pixel geometry the split and the watermark used (segmented pixel data). */
  geometry?: JsonValue;
  /** Segmentation or striping parameters. */
  split?: JsonValue;
  /** Watermark parameters, or why there is none. */
  watermark?: { applied: true; parameters: JsonValue } | { applied: false; reason: string };
}

/** A manifest before it is signed. */
export interface ManifestBody {
  version: number;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  /** Bytes of the received instance, and their SHA-256 (hex): what every read must reproduce. */
  length: number;
  sha256: string;
  createdAt: string;
  gatewayId: string;
  mode: ProtectionMode;
  /**
   * The per-instance data key wrapped by a master key, and the id of the shred key in the vault
   * that, with it, makes the key of the fragments (hardened mode; `keys/instance-keys.ts`).
   */
  dataKey?: RecordedDataKey;
  /** Ranges of the instance cut out of the skeleton. */
  cuts: { identity: ByteRange[]; pixels?: ByteRange };
  /** `split` when identity values were cut out; `opaque` (with why) when the data set could not be cut. */
  identity: { status: 'split' | 'opaque'; reason?: string };
  pixels: PixelProtection;
  fragments: FragmentRecord[];
}

/** A signed manifest. */
export interface Manifest extends ManifestBody {
  signature: { keyId: string; mac: string };
}

/** Signs `body` under the active master key. */
export function signManifest(body: ManifestBody, keyring: Keyring): Manifest {
  const active = keyring.active;
  if (active === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no master key to sign manifests with');
  return { ...body, signature: { keyId: active.id, mac: mac(body, signingKey(keyring, active.id)) } };
}

/** The body of a manifest whose signature verifies; throws INTEGRITY_FAILURE otherwise. */
export function verifyManifest(manifest: Manifest, keyring: Keyring, expectedSopInstanceUid?: string): ManifestBody {
  const { signature, ...body } = manifest;
  // Exactly the hex this code writes: `Buffer.from(hex)` would also take upper case or stray characters.
  if (!signature || typeof signature.mac !== 'string' || !/^[0-9a-f]{64}$/.test(signature.mac) || typeof signature.keyId !== 'string') {
    throw integrity('the manifest is not signed');
  }
  const key = signingKey(keyring, signature.keyId);
  const expected = Buffer.from(mac(body, key), 'hex');
  const presented = Buffer.from(signature.mac, 'hex');
  if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) throw integrity('the manifest signature does not verify');
  if (body.version !== MANIFEST_VERSION) throw integrity(`manifest version ${body.version} is not supported`);
  if (expectedSopInstanceUid !== undefined && body.sopInstanceUid !== expectedSopInstanceUid) throw integrity('the manifest belongs to another instance');
  return body;
}

function mac(body: ManifestBody, key: Buffer): string {
  return createHmac('sha256', key)
    .update(canonicalJson(body as unknown as JsonValue))
    .digest('hex');
}

function signingKey(keyring: Keyring, keyId: string): Buffer {
  const master = keyring.find(keyId);
  if (master === undefined) throw new GatewayError('KEY_NOT_FOUND', `master key '${keyId}' of a manifest signature is not in the keyring`);
  return deriveKey(master.secret, 'aegis manifest v1');
}

function integrity(message: string): GatewayError {
  return new GatewayError('INTEGRITY_FAILURE', message);
}
