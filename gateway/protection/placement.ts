/**
 * Where the fragments of a protected instance go, and under which keys. Skeleton, identity, label
 * map and the manifest copy go to the instances backend; region i goes to `regions[i mod n]`, so
 * that with two region backends or more no backend holds every region. Keys are opaque:
 * `f/<ab>/<id>.<n>` for the n-th fragment and `m/<ab>/<id>` for the manifest copy, `<id>` a random
 * storage id of the instance and `<ab>` its first two hex digits, so that no directory is made per
 * instance and a backend operator reads no UID, role or name in them. Pure: it names backends and
 * keys; the services write and read.
 */
import { randomUUID } from 'node:crypto';

/** Which backends hold what. */
export interface Placement {
  /** Backend of skeleton, identity, label map and manifest copy. */
  instances: string;
  /** Backends of the regions (region i on `regions[i mod n]`). */
  regions: readonly string[];
}

/** The prefix of every manifest copy's key: what `aegis reindex` lists to rebuild the catalog. */
export const MANIFEST_COPY_PREFIX = 'm/';

/** A fresh random storage id for an instance (32 hex digits). */
export function newStorageId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The backend that holds a fragment of `role` and `index`. */
export function fragmentBackend(placement: Placement, fragment: { role: string; index: number }): string {
  return fragment.role === 'region' ? placement.regions[fragment.index % placement.regions.length] : placement.instances;
}

/** The key of the n-th fragment of the instance with storage id `id`. */
export function fragmentStoreKey(id: string, n: number): string {
  return `f/${id.slice(0, 2)}/${id}.${n}`;
}

/** The key of the manifest copy of the instance with storage id `id`. */
export function manifestCopyKey(id: string): string {
  return `${MANIFEST_COPY_PREFIX}${id.slice(0, 2)}/${id}`;
}

/** The storage id of a manifest copy from its key `m/<ab>/<id>` (the associated data of its seal). */
export function manifestCopyId(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
