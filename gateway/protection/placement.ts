/**
 * Where the fragments of a protected instance go, and under which keys. Skeleton, identity and label
 * map go to the instances target; region i goes to `regions[i mod n]`, so that with two region
 * targets or more no backend holds every region. A target is a backend, or a redundancy group
 * (`erasure.ts`): shard j of each fragment placed on a group goes to the group's backend j. The
 * manifest copy goes to the instances backend (the first backend of the instances group). Keys are
 * opaque: `f/<ab>/<id>.<n>` for the n-th fragment, or for the bundle that holds it and the later
 * fragments the same backend holds whole (one object per backend per instance,
 * `services/fragment-bundles.ts`), `f/<ab>/<id>.<n>.<j>` for shard j of the n-th fragment, and
 * `m/<ab>/<id>` for the manifest copy, `<id>` a random
 * storage id of the instance and `<ab>` its first two hex digits, so that no directory is made per
 * instance and a backend operator reads no UID, role or name in them. Pure: it names backends and
 * keys; the services write and read.
 */
import { randomUUID } from 'node:crypto';
import { targetOf, type PlacementConfig } from '../config.js';
import type { Redundancy } from './erasure.js';

/** Which backends hold what. */
export interface Placement {
  /** Backend or group of skeleton, identity and label map; its (first) backend keeps the manifest copy. */
  instances: string;
  /** Backends or groups of the regions (region i on `regions[i mod n]`). */
  regions: readonly string[];
  /** Redundancy groups by name. */
  groups?: PlacementConfig['groups'];
}

/** Where one fragment goes: one backend (whole), or a group's backends (shard j on `backends[j]`). */
export type FragmentTarget = { backend: string; redundancy?: undefined } | { backends: readonly string[]; redundancy: Redundancy };

/** The prefix of every manifest copy's key: what `aegis reindex` lists to rebuild the catalog. */
export const MANIFEST_COPY_PREFIX = 'm/';

/** A fresh random storage id for an instance (32 hex digits). */
export function newStorageId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The backend or group name that holds a fragment of `role` and `index`. */
export function fragmentBackend(placement: Placement, fragment: { role: string; index: number }): string {
  return fragment.role === 'region' ? placement.regions[fragment.index % placement.regions.length] : placement.instances;
}

/** Where a fragment of `role` and `index` goes: its backend, or its group's backends and redundancy. */
export function fragmentTarget(placement: Placement, fragment: { role: string; index: number }): FragmentTarget {
  const name = fragmentBackend(placement, fragment);
  const group = placement.groups !== undefined && Object.hasOwn(placement.groups, name) ? placement.groups[name] : undefined;
  if (group === undefined) return { backend: name };
  return { backends: group.backends, redundancy: { scheme: group.scheme, k: group.k, n: group.backends.length } };
}

/** The backend that keeps the manifest copies: the instances backend, or the first backend of the instances group. */
export function manifestCopyBackend(placement: Placement): string {
  return targetOf({ groups: placement.groups ?? {} }, placement.instances).backends[0];
}

/** The key of the n-th fragment of the instance with storage id `id` (of the bundle it starts, if any). */
export function fragmentStoreKey(id: string, n: number): string {
  return `f/${id.slice(0, 2)}/${id}.${n}`;
}

/** The key of shard j of the n-th fragment of the instance with storage id `id`. */
export function shardStoreKey(id: string, n: number, j: number): string {
  return `${fragmentStoreKey(id, n)}.${j}`;
}

/** The key of the manifest copy of the instance with storage id `id`. */
export function manifestCopyKey(id: string): string {
  return `${MANIFEST_COPY_PREFIX}${id.slice(0, 2)}/${id}`;
}

/** The storage id of a manifest copy from its key `m/<ab>/<id>` (the associated data of its seal). */
export function manifestCopyId(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
