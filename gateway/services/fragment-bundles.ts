/**
 * One object per backend per instance. The fragments of an instance that go whole to one backend
 * (not to a redundancy group, not to a PACS) are stored there as one object, a bundle: their sealed
 * bytes concatenated in manifest order, under the opaque key of the first of them
 * (`protection/placement.ts`). Each fragment's record in the signed manifest keeps its own length
 * and SHA-256 and gains its offset in the bundle. A read gets each object once and slices the
 * fragments out of it without copying; a slice that does not fit the object, or bytes beyond the
 * last slice, fail the read as INTEGRITY_FAILURE before `protection/reassemble.ts` authenticates
 * each fragment. A record without an offset (written before bundles) is an object of its own.
 */
import { GatewayError, isGatewayError } from '../errors.js';
import type { WholeFragmentRecord } from '../protection/manifest.js';
import { fragmentStoreKey } from '../protection/placement.js';
import { fragmentKey } from '../protection/reassemble.js';
import { putAll, sha256Hex, type ShardIo, type WrittenPiece } from './fragment-shards.js';

/** A fragment to store in a bundle: its number in the manifest, which fragment it is, and its stored bytes. */
export interface BundleMember {
  n: number;
  role: string;
  index: number;
  bytes: Uint8Array;
}

/**
 * Stores `members` (fragments of the instance `id`, in manifest order) as one object on `backend`
 * under the key of the first of them, and returns their records, each with its offset. The object
 * is pushed on `written` once it is stored.
 */
export async function writeBundle(io: ShardIo, backend: string, id: string, members: readonly BundleMember[], written: WrittenPiece[]): Promise<WholeFragmentRecord[]> {
  const key = fragmentStoreKey(id, members[0].n);
  const bytes = members.length === 1 ? members[0].bytes : Buffer.concat(members.map((m) => m.bytes));
  const [object] = await putAll(io, [{ backend, key, bytes }], written);
  let offset = 0;
  return members.map((m) => {
    const record: WholeFragmentRecord = { role: m.role, index: m.index, length: m.bytes.length, sha256: sha256Hex(m.bytes), backend: object.backend, key, locator: object.locator, offset };
    offset += m.bytes.length;
    return record;
  });
}

/**
 * The stored bytes of the fragments stored whole, by {@link fragmentKey}: each object read once
 * (under the limiter), each fragment a slice of it. An object that is gone is INTEGRITY_FAILURE
 * naming its fragments (data lost or tampered with, not a client error), as is one whose slices do
 * not fit it; a backend's failure is rethrown as it came.
 */
export async function readWholeFragments(io: ShardIo, records: readonly WholeFragmentRecord[], signal?: AbortSignal): Promise<Map<string, Uint8Array>> {
  const fetched = new Map<string, Uint8Array>();
  await Promise.all(
    objectsOf(records).map(async (members) => {
      const { backend, locator } = members[0];
      let bytes: Uint8Array;
      try {
        bytes = await io.limiter.run(() => io.store(backend).get(locator, { signal }), signal);
      } catch (error) {
        if (isGatewayError(error, 'NOT_FOUND')) throw new GatewayError('INTEGRITY_FAILURE', `${describe(members)} missing from backend ${backend}`, { cause: error });
        throw error;
      }
      sliceObject(bytes, members).forEach((slice, i) => {
        if ('problem' in slice) throw new GatewayError('INTEGRITY_FAILURE', `${slice.problem} on backend ${backend}`);
        fetched.set(fragmentKey(members[i]), slice.bytes);
      });
    }),
  );
  return fetched;
}

/** The records grouped by the object they are stored in (backend and locator), in manifest order. */
export function objectsOf<T extends { backend: string; locator: string }>(records: readonly T[]): T[][] {
  const objects = new Map<string, T[]>();
  for (const record of records) {
    const id = `${record.backend}\0${record.locator}`;
    const members = objects.get(id);
    if (members === undefined) objects.set(id, [record]);
    else members.push(record);
  }
  return [...objects.values()];
}

/**
 * Each record's bytes in `bytes`, the object stored under their locator, or why they cannot be
 * had: a slice beyond the end of the object, or (on the last slice) bytes after it. A record
 * without an offset is the whole object (its length is checked by whoever reads it).
 */
export function sliceObject(bytes: Uint8Array, records: ReadonlyArray<Pick<WholeFragmentRecord, 'role' | 'index' | 'length' | 'offset'>>): Array<{ bytes: Uint8Array } | { problem: string }> {
  const end = Math.max(...records.map((r) => (r.offset === undefined ? bytes.length : r.offset + r.length)));
  return records.map((r) => {
    if (r.offset === undefined) return { bytes };
    const stop = r.offset + r.length;
    if (!Number.isSafeInteger(r.offset) || r.offset < 0 || !Number.isSafeInteger(stop) || stop > bytes.length) {
      return { problem: `fragment ${r.role}:${r.index} (${r.length} bytes at ${r.offset}) lies beyond the ${bytes.length} bytes of its object` };
    }
    if (stop === end && bytes.length > end) return { problem: `fragment ${r.role}:${r.index} is followed by ${bytes.length - end} bytes that no fragment records` };
    return { bytes: bytes.subarray(r.offset, stop) };
  });
}

function describe(members: ReadonlyArray<Pick<WholeFragmentRecord, 'role' | 'index'>>): string {
  const names = members.map((m) => `${m.role}:${m.index}`).join(', ');
  return members.length === 1 ? `fragment ${names} is` : `fragments ${names} are`;
}
