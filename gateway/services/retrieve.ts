/**
 * The WADO-RS retrieve use case (PS3.18 §10.4): finds the instances of a study, series or
 * instance and reads what was stored: whole instances (the exact received bytes), their
 * metadata (DICOM JSON), frames and bulk data values. Every read goes through here so that the
 * protection pipeline can verify data before any byte leaves the gateway.
 */
import type { Readable } from 'node:stream';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { Catalog, InstanceRow, InstanceScope } from '../catalog/catalog.js';
import { datasetView, frameRanges } from '../dicom/index.js';
import type { BulkDataLocation, PixelDataLayout } from '../dicom/types.js';
import { GatewayError } from '../errors.js';

/** What the retrieve service needs. */
export interface RetrieveDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
}

/** Where the frames and bulk data of a stored instance lie (recorded at STOW). */
export interface InstanceLayout {
  bulkData: BulkDataLocation[];
  pixelData?: PixelDataLayout;
  deflated: boolean;
}

/** The instances of a scope; NOT_FOUND when there are none. */
export async function findInstances(deps: RetrieveDeps, scope: InstanceScope): Promise<InstanceRow[]> {
  const rows = await deps.catalog.listInstances(scope);
  if (rows.length === 0) throw new GatewayError('NOT_FOUND', `no ${scope.instance ? 'instance' : scope.series ? 'series' : 'study'} with that UID`);
  return rows;
}

/** Streams the exact stored bytes of an instance. */
export async function streamInstance(deps: RetrieveDeps, row: InstanceRow): Promise<Readable> {
  return storeOf(deps, row).stream(row.locator);
}

/** The exact stored bytes of an instance, whole (for derived views). */
export async function readInstance(deps: RetrieveDeps, row: InstanceRow): Promise<Buffer> {
  return storeOf(deps, row).get(row.locator);
}

/** The metadata of an instance as DICOM JSON text with BulkDataURIs made absolute. */
export function instanceMetadataText(row: InstanceRow, baseUrl: string): string {
  const instanceUrl = `${baseUrl}/studies/${row.study_uid}/series/${row.series_uid}/instances/${row.sop_instance_uid}`;
  return row.metadata.replaceAll('"BulkDataURI":"bulkdata/', `"BulkDataURI":"${instanceUrl}/bulkdata/`);
}

/** The pixel data layout of an instance; NOT_FOUND when it has no pixel data. */
export function pixelLayout(row: InstanceRow): PixelDataLayout {
  const layout = JSON.parse(row.layout) as InstanceLayout;
  if (!layout.pixelData) throw new GatewayError('NOT_FOUND', 'the instance has no pixel data');
  return layout.pixelData;
}

/** Reads frames (1-based numbers) of an instance; NOT_FOUND for a frame out of range. */
export async function readFrames(deps: RetrieveDeps, row: InstanceRow, frames: number[]): Promise<Buffer[]> {
  const layout = JSON.parse(row.layout) as InstanceLayout;
  if (!layout.pixelData) throw new GatewayError('NOT_FOUND', 'the instance has no pixel data');
  const pixelData = layout.pixelData;
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
  const store = storeOf(deps, row);
  if (layout.deflated) {
    // Offsets refer to the inflated data set: inflate once, then slice.
    const whole = await store.get(row.locator);
    const view = datasetView(whole, { deflated: true } as never);
    return ranges.map((parts) => Buffer.concat(parts.map(([offset, length]) => view.subarray(offset, offset + length))));
  }
  return Promise.all(
    ranges.map(async (parts) => {
      const buffers = await Promise.all(parts.map(([offset, length]) => store.get(row.locator, { start: offset, end: offset + length })));
      return buffers.length === 1 ? buffers[0] : Buffer.concat(buffers);
    }),
  );
}

function storeOf(deps: RetrieveDeps, row: InstanceRow): FragmentStore {
  const store = deps.stores.get(row.backend);
  if (!store) throw new GatewayError('BACKEND_UNAVAILABLE', `backend ${row.backend} is not configured`, { headers: { 'Retry-After': '60' } });
  return store;
}
