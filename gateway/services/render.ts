/**
 * The rendered and thumbnail use case (PS3.18 §10.4.1.1.3 rendered resources, and the thumbnail
 * resources of the same section): one image, made on request from the verified instance, never
 * stored. A study or series is shown by a representative instance: the first series (by Series
 * Number, then UID) that has a renderable instance, and the middle one of its renderable instances
 * by Instance Number; an instance by its first frame; a frame by itself. One frame is decoded per
 * request, of an instance no larger than {@link MAX_RENDER_PIXELS} per frame, and no more than
 * {@link RenderDeps.renders} allows are decoded and encoded at once (each holds its frame in memory);
 * the instance is read only when a render's turn comes, and a render whose request's signal fired
 * (its client went away) is dropped from the queue, or not encoded. A render that had to wait
 * finds its instance again when its turn comes, under the policy: one deleted meanwhile is a 404,
 * never the bytes of the deleted instance nor a failed verification.
 *
 * Rendering is a read of pixels: the policy decides as for frames, and each instance's view
 * ({@link renderedInView}) may refuse it (masked pixels, burned-in annotation in a de-identified
 * view). In a study or series, refused instances are passed over; when all are, the refusal answers.
 */
import type { InstanceRow, InstanceScope } from '../catalog/catalog.js';
import { encodeFrame, type EncodedImage, type RenderedMediaType, type Viewport } from '../dicom/image-encode.js';
import { renderFrame, type RenderWindow } from '../dicom/render-image.js';
import type { DicomJson } from '../dicom/types.js';
import { renderedInView } from '../deidentify/views.js';
import { GatewayError } from '../errors.js';
import type { RequestAccess } from './authorization.js';
import type { Limiter } from './limiter.js';
import { findReadable, readInstance, type RetrieveDeps, type SeenInstance } from './retrieve.js';

/** Largest frame rendered, in pixels (rows x columns): its RGBA rendering is held in memory. */
export const MAX_RENDER_PIXELS = 4096 * 4096;
/** The viewport of a thumbnail when the request gives none: fits in 128 x 128 pixels. */
export const THUMBNAIL_VIEWPORT: Viewport = Object.freeze({ vw: 128, vh: 128 });

/** What rendering needs besides the retrieve service's dependencies. */
export interface RenderDeps extends RetrieveDeps {
  /** Bounds the renders (decode and encode) in progress at once in this process. */
  renders?: Limiter;
}

/** What to render, and how to encode it. */
export interface RenderRequest {
  mediaType: RenderedMediaType;
  window?: RenderWindow;
  viewport?: Viewport;
  quality: number;
  /** A thumbnail: the default viewport is {@link THUMBNAIL_VIEWPORT}. */
  thumbnail: boolean;
  /** The frame list of a frame resource (exactly one frame is rendered). */
  frames?: number[];
  /** Fires when nobody waits for the image any more: a render not begun never starts, one begun is not encoded. */
  signal?: AbortSignal;
}

/** A rendered image and the instance and frame it shows. */
export interface RenderedImage extends EncodedImage {
  mediaType: RenderedMediaType;
  row: InstanceRow;
  frame: number;
}

/** Renders the study, series, instance or frame `scope` as `request` asks, for `access`. */
export async function renderResource(deps: RenderDeps, access: RequestAccess, scope: InstanceScope, request: RenderRequest): Promise<RenderedImage> {
  if (request.frames !== undefined && request.frames.length !== 1) {
    throw new GatewayError('BAD_REQUEST', `a rendered frame resource shows one frame; ${request.frames.length} were asked (ask for each frame on its own)`);
  }
  const { signal } = request;
  // What the policy refuses, or what cannot be rendered, is answered before the render takes a place.
  const first = await chooseFrame(deps, access, scope, request);
  if (deps.renders === undefined) return render(deps, first, request);
  let waited = false;
  const rendering = deps.renders.run(async () => {
    // A render that waited chooses again when its turn comes: its instance may have been deleted
    // (its key destroyed) or stored again meanwhile, and the catalog and policy say so now.
    return render(deps, waited ? await chooseFrame(deps, access, scope, request) : first, request);
  }, signal);
  waited = true; // a render that finds a free place has begun before `run` returns
  return rendering;
}

/** The instance and frame to render, checked against the render bounds; see the module header. */
async function chooseFrame(deps: RenderDeps, access: RequestAccess, scope: InstanceScope, request: RenderRequest): Promise<{ row: InstanceRow; frame: number }> {
  const { row, metadata } = representative(await findReadable(deps, access, scope, 'read'));
  const frames = numberValue(metadata, '00280008') ?? 1;
  const frame = request.frames?.[0] ?? 1;
  if (frame > frames) throw new GatewayError('NOT_FOUND', `the instance has ${frames} frame${frames === 1 ? '' : 's'}; frame ${frame} does not exist`);
  const pixels = (numberValue(metadata, '00280010') ?? 0) * (numberValue(metadata, '00280011') ?? 0);
  if (pixels > MAX_RENDER_PIXELS) throw new GatewayError('NOT_ACCEPTABLE', `frames of ${pixels} pixels are larger than the ${MAX_RENDER_PIXELS} Aegis renders; retrieve the frame instead`);
  return { row, frame };
}

/** Reads the instance (only now: a waiting render holds no bytes), renders its frame and encodes it, unless the request's signal fired meanwhile. */
async function render(deps: RenderDeps, { row, frame }: { row: InstanceRow; frame: number }, request: RenderRequest): Promise<RenderedImage> {
  const rendered = await renderFrame(await readInstance(deps, row), { frame, window: request.window });
  request.signal?.throwIfAborted();
  const viewport = request.viewport ?? (request.thumbnail ? THUMBNAIL_VIEWPORT : undefined);
  const encoded = await encodeFrame(rendered, { mediaType: request.mediaType, viewport, quality: request.quality });
  return { ...encoded, mediaType: request.mediaType, row, frame };
}

/** The instance that shows `seen` (one instance, or the instances of a series or study); see the module header. */
function representative(seen: SeenInstance[]): { row: InstanceRow; metadata: DicomJson } {
  const renderable = seen
    .filter(({ view }) => view.renderingWithheld === undefined)
    .map(({ row }) => ({ row, metadata: JSON.parse(row.metadata) as DicomJson }))
    .filter(({ metadata }) => metadata['7FE00010'] !== undefined && numberValue(metadata, '00280010') !== undefined);
  if (renderable.length === 0) {
    const refused = seen.find(({ view }) => view.renderingWithheld !== undefined);
    if (refused !== undefined) renderedInView(refused.view);
    throw new GatewayError('NOT_ACCEPTABLE', seen.length === 1 ? 'the instance has no pixel data to render' : 'no instance here has pixel data to render');
  }
  if (renderable.length === 1) return renderable[0];
  const seriesOrder = (m: DicomJson, row: InstanceRow) => [numberValue(m, '00200011') ?? Number.MAX_SAFE_INTEGER, row.series_uid] as const;
  const firstSeries = renderable.reduce((best, one) => (compare(seriesOrder(one.metadata, one.row), seriesOrder(best.metadata, best.row)) < 0 ? one : best)).row.series_uid;
  const inSeries = renderable
    .filter(({ row }) => row.series_uid === firstSeries)
    .sort((a, b) => compare([numberValue(a.metadata, '00200013') ?? 0, a.row.sop_instance_uid], [numberValue(b.metadata, '00200013') ?? 0, b.row.sop_instance_uid]));
  return inSeries[Math.floor((inSeries.length - 1) / 2)];
}

function compare(a: readonly [number, string], b: readonly [number, string]): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

/** The first value of a numeric attribute (US, IS) of DICOM JSON; undefined when absent or not a number. */
function numberValue(metadata: DicomJson, tag: string): number | undefined {
  const value = Number(metadata[tag]?.Value?.[0]);
  return metadata[tag]?.Value?.[0] === undefined || !Number.isFinite(value) ? undefined : value;
}
