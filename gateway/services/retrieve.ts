/**
 * The WADO-RS retrieve use case (PS3.18 §10.4): finds the instances of a study, series or
 * instance and reads what was stored: whole instances (the exact received bytes), their
 * metadata (DICOM JSON), frames and bulk data values. Every read goes through here so that the
 * protection pipeline can verify data before any byte leaves the gateway.
 */
import { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { Keyring } from '../keys/keyring.js';
import { readProtected, type ReadDeps } from './protected-fragments.js';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { Catalog, InstanceRow, InstanceScope } from '../catalog/catalog.js';
import { datasetView } from '../dicom/parse.js';
import { frameRanges } from '../dicom/pixel-data.js';
import type { BulkDataLocation, PixelDataLayout } from '../dicom/types.js';
import { GatewayError } from '../errors.js';
import { instanceView, type InstanceView } from '../deidentify/views.js';
import { authorizeStudy, type RequestAccess } from './authorization.js';
import { instanceUrl, notFound } from './resources.js';

/** What the retrieve service needs. */
export interface RetrieveDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  keyring: Keyring;
  /** Instances already reassembled and verified, by SOP Instance UID and SHA-256 (frames of one instance come in many requests). */
  verified?: VerifiedInstances;
  /** Told of every read that succeeded only thanks to redundancy (some shards missing or corrupt). */
  onDegradedRead?: ReadDeps['onDegradedRead'];
  /** Shard reads in flight at once for one instance. */
  shardConcurrency?: number;
  /** Milliseconds before the shards beyond the first k of a fragment are read as well. */
  hedgeMs?: number;
}

/**
 * Verified instances of one process: an LRU cache of at most `maxBytes`, plus the one instance
 * larger than that read last (a multi-frame instance whose frames a viewer asks for one request
 * each), kept `LARGE_INSTANCE_MS`; concurrent reads of one instance share one reassembly.
 */
export class VerifiedInstances {
  readonly #cache: LRUCache<string, Uint8Array>;
  readonly #maxBytes: number;
  readonly #pending = new Map<string, Promise<Uint8Array>>();
  #large: { key: string; bytes: Uint8Array; timer: NodeJS.Timeout } | undefined;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#cache = new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (bytes) => Math.max(1, bytes.length), ttl: 10 * 60_000 });
  }

  /** The verified bytes under `key`, from `load` (once, however many ask at the same time) unless kept. */
  get(key: string, load: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const kept = this.#cache.get(key) ?? (this.#large?.key === key ? this.#large.bytes : undefined);
    if (kept) return Promise.resolve(kept);
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = load()
        .then((bytes) => {
          this.#keep(key, bytes);
          return bytes;
        })
        .finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  #keep(key: string, bytes: Uint8Array): void {
    if (bytes.length <= this.#maxBytes) {
      this.#cache.set(key, bytes);
      return;
    }
    if (this.#large) clearTimeout(this.#large.timer);
    const timer = setTimeout(() => (this.#large = undefined), LARGE_INSTANCE_MS);
    timer.unref();
    this.#large = { key, bytes, timer };
  }
}

/** How long the last instance too large for the cache is kept. */
export const LARGE_INSTANCE_MS = 30_000;

/**
 * The exact received bytes of an instance: reassembled from its fragments and verified (protected
 * instances), or read whole (rows from before protection). INTEGRITY_FAILURE when verification fails.
 */
export async function readInstance(deps: RetrieveDeps, row: InstanceRow): Promise<Uint8Array> {
  if (row.manifest === null) return storeOf(deps, row).get(row.locator);
  const manifest = row.manifest;
  const load = () => readProtected(deps, manifest, row.sop_instance_uid);
  return deps.verified ? deps.verified.get(`${row.sop_instance_uid}\0${row.sha256}`, load) : load();
}

/** Where the frames and bulk data of a stored instance lie (recorded at STOW). */
export interface InstanceLayout {
  bulkData: BulkDataLocation[];
  pixelData?: PixelDataLayout;
  deflated: boolean;
  /** Why the pixel data cannot be read as frames (it was stored as opaque bytes). */
  unreadablePixelData?: string;
}

/** The instances of a scope; NOT_FOUND when there are none. */
export async function findInstances(deps: RetrieveDeps, scope: InstanceScope): Promise<InstanceRow[]> {
  const rows = await deps.catalog.listInstances(scope);
  if (rows.length === 0) throw notFound(scope);
  return rows;
}

/** An instance of a request's scope with the decision of what the subject may see of it. */
export interface SeenInstance {
  row: InstanceRow;
  view: InstanceView;
}

/**
 * The instances of a scope, after the policy allowed `access` the action on their study, each with
 * the decision of what the subject may see of it (`deidentify/views.ts`): no caller gets an
 * instance without its decision. Whole Part 10 instances leave the gateway as files: that is
 * `export`; metadata, frames, bulk data and rendered images are what a viewer shows: `read`.
 */
export async function findReadable(deps: RetrieveDeps, access: RequestAccess, scope: InstanceScope, action: 'read' | 'export' = 'read'): Promise<SeenInstance[]> {
  const view = await authorizeStudy(deps.catalog, access, action, scope);
  return (await findInstances(deps, scope)).map((row) => ({ row, view: instanceView(view, row.metadata) }));
}

/** Streams the exact received bytes of an instance, verified before the first byte. */
export async function streamInstance(deps: RetrieveDeps, row: InstanceRow): Promise<Readable> {
  if (row.manifest === null) return storeOf(deps, row).stream(row.locator);
  return Readable.from([asBuffer(await readInstance(deps, row))], { objectMode: false });
}

/** The metadata of an instance as DICOM JSON text with BulkDataURIs made absolute. */
export function instanceMetadataText(row: InstanceRow, baseUrl: string): string {
  const url = instanceUrl(baseUrl, row.study_uid, row.series_uid, row.sop_instance_uid);
  return row.metadata.replaceAll('"BulkDataURI":"bulkdata/', `"BulkDataURI":"${url}/bulkdata/`);
}

/** The pixel data layout of an instance; NOT_FOUND when it has no pixel data, or none that can be read as frames. */
export function pixelLayout(row: InstanceRow): PixelDataLayout {
  return framesOf(JSON.parse(row.layout) as InstanceLayout);
}

function framesOf(layout: InstanceLayout): PixelDataLayout {
  if (layout.unreadablePixelData !== undefined) throw new GatewayError('NOT_FOUND', `the pixel data cannot be read as frames (${layout.unreadablePixelData}); retrieve the instance`);
  if (!layout.pixelData) throw new GatewayError('NOT_FOUND', 'the instance has no pixel data');
  return layout.pixelData;
}

/** Reads frames (1-based numbers) of an instance; NOT_FOUND for a frame out of range. */
export async function readFrames(deps: RetrieveDeps, row: InstanceRow, frames: number[]): Promise<Buffer[]> {
  const layout = JSON.parse(row.layout) as InstanceLayout;
  const pixelData = framesOf(layout);
  const ranges = frames.map((n) => frameRanges(pixelData, n));
  return readRanges(deps, row, layout, ranges);
}

/** Reads the bulk data value at `path` (e.g. `7FE00010`); NOT_FOUND when there is none. */
export async function readBulkData(deps: RetrieveDeps, row: InstanceRow, path: string): Promise<Buffer> {
  const layout = JSON.parse(row.layout) as InstanceLayout;
  const location = layout.bulkData.find((b) => b.path.toUpperCase() === path.toUpperCase());
  if (!location) throw new GatewayError('NOT_FOUND', `the instance has no bulk data at ${path}`);
  const [value] = await readRanges(deps, row, layout, [[[location.offset, location.length]]]);
  return value;
}

async function readRanges(deps: RetrieveDeps, row: InstanceRow, layout: InstanceLayout, ranges: Array<Array<[number, number]>>): Promise<Buffer[]> {
  if (row.manifest !== null || layout.deflated) {
    // Protected instances are verified whole; deflated offsets refer to the inflated data set.
    const whole = asBuffer(await readInstance(deps, row));
    if (!layout.deflated) return ranges.map((parts) => Buffer.concat(parts.map(([offset, length]) => whole.subarray(offset, offset + length))));
    const view = datasetView(whole, { deflated: true } as never);
    return ranges.map((parts) => Buffer.concat(parts.map(([offset, length]) => view.subarray(offset, offset + length))));
  }
  const store = storeOf(deps, row);
  return Promise.all(
    ranges.map(async (parts) => {
      const buffers = await Promise.all(parts.map(([offset, length]) => store.get(row.locator, { range: { start: offset, end: offset + length } })));
      return buffers.length === 1 ? buffers[0] : Buffer.concat(buffers);
    }),
  );
}

/** A Buffer over the same memory (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function storeOf(deps: RetrieveDeps, row: InstanceRow): FragmentStore {
  const store = deps.stores.get(row.backend);
  if (!store) throw new GatewayError('BACKEND_UNAVAILABLE', `backend ${row.backend} is not configured`, { headers: { 'Retry-After': '60' } });
  return store;
}
