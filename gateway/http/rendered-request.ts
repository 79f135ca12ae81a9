/**
 * The request of a rendered or thumbnail resource (PS3.18 §8.3.5 rendering query parameters, §8.7.4
 * rendered media types, §10.4.1.1.3 and the thumbnail resources): the media type from the Accept
 * header or the `accept` parameter (image/jpeg by default, image/png, image/gif), and the parameters `window=center,width,
 * function` (function `linear`, `linear-exact` or `sigmoid`), `viewport=vw,vh[,sx,sy,sw,sh]`,
 * `quality` (1-100), `annotation` (`patient` and/or `technique`) and `charset`. A malformed
 * parameter is a 400 naming it; an Accept no rendered media type satisfies is a 406.
 */
import type { Request } from 'express';
import { RENDERED_MEDIA_TYPES, type RenderedMediaType, type Viewport } from '../dicom/image-encode.js';
import type { RenderWindow, WindowFunction } from '../dicom/render-image.js';
import { GatewayError } from '../errors.js';
import { covers, parseAccept } from './media-type.js';

/** Largest viewport side, in pixels (a rendered image is made in memory). */
export const MAX_VIEWPORT = 4096;
/** JPEG quality when the request names none. */
export const DEFAULT_QUALITY = 90;

/** What a rendered or thumbnail request asks for. */
export interface RenderedRequest {
  mediaType: RenderedMediaType;
  window?: RenderWindow;
  viewport?: Viewport;
  quality: number;
  /** Annotations asked for (`patient`, `technique`); Aegis renders none and says so. */
  annotation: string[];
}

const FUNCTIONS: Record<string, WindowFunction> = { linear: 'LINEAR', 'linear-exact': 'LINEAR_EXACT', sigmoid: 'SIGMOID' };

/** Parses a rendered (or, with `thumbnail`, a thumbnail) request: media type and query parameters. */
export function parseRenderedRequest(req: Request, thumbnail: boolean): RenderedRequest {
  const query = req.query as Record<string, unknown>;
  // The accept query parameter, when present, replaces the Accept header (PS3.18 §8.3.3.1).
  const mediaType = negotiateRendered(single(query, 'accept') ?? req.headers.accept);
  const quality = single(query, 'quality');
  const annotation = single(query, 'annotation');
  single(query, 'charset');
  const request: RenderedRequest = {
    mediaType,
    quality: quality === undefined ? DEFAULT_QUALITY : integer('quality', quality, 1, 100),
    annotation: annotation === undefined ? [] : parseAnnotation(annotation),
  };
  const window = single(query, 'window');
  if (window !== undefined) {
    if (thumbnail) throw new GatewayError('BAD_REQUEST', 'a thumbnail takes no window parameter (the origin server chooses its rendering)');
    request.window = parseWindow(window);
  }
  const viewport = single(query, 'viewport');
  if (viewport !== undefined) request.viewport = parseViewport(viewport);
  return request;
}

/** The rendered media type to answer with: the first of the Accept header's ranges that one covers. */
export function negotiateRendered(accept: string | undefined): RenderedMediaType {
  for (const range of parseAccept(accept)) {
    const type = RENDERED_MEDIA_TYPES.find((t) => covers(range, t));
    if (type !== undefined) return type;
  }
  throw new GatewayError('NOT_ACCEPTABLE', `cannot provide ${accept}: rendered images are available as ${RENDERED_MEDIA_TYPES.join(', ')}`);
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new GatewayError('BAD_REQUEST', `the ${name} parameter must be given once, as text`);
  return value;
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^-?\d{1,9}$/.test(text.trim())) throw new GatewayError('BAD_REQUEST', `${name} '${text.slice(0, 32)}' is not an integer`);
  const value = Number(text.trim());
  if (value < min || value > max) throw new GatewayError('BAD_REQUEST', `${name} ${value} is outside ${min}-${max}`);
  return value;
}

function decimal(name: string, text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim())) {
    throw new GatewayError('BAD_REQUEST', `window ${name} '${text.slice(0, 32)}' is not a decimal number`);
  }
  return value;
}

/** `window=center,width,function` (PS3.18 §8.3.5.1.4). */
function parseWindow(text: string): RenderWindow {
  const parts = text.split(',');
  if (parts.length !== 3) throw new GatewayError('BAD_REQUEST', `window '${text.slice(0, 64)}' is not center,width,function (function: linear, linear-exact or sigmoid)`);
  const center = decimal('center', parts[0]);
  const width = decimal('width', parts[1]);
  const fn = FUNCTIONS[parts[2].trim().toLowerCase()];
  if (fn === undefined) throw new GatewayError('BAD_REQUEST', `window function '${parts[2].slice(0, 32)}' is not linear, linear-exact or sigmoid`);
  if (fn === 'LINEAR' ? width < 1 : width <= 0) throw new GatewayError('BAD_REQUEST', `window width ${width} is too small for the ${parts[2].trim()} function`);
  return { center, width, function: fn };
}

/** `viewport=vw,vh[,sx,sy,sw,sh]` (PS3.18 §8.3.5.1.3). */
function parseViewport(text: string): Viewport {
  const parts = text.split(',');
  if (parts.length !== 2 && parts.length !== 6) throw new GatewayError('BAD_REQUEST', `viewport '${text.slice(0, 64)}' is not vw,vh or vw,vh,sx,sy,sw,sh`);
  const viewport: Viewport = { vw: integer('viewport width', parts[0], 1, MAX_VIEWPORT), vh: integer('viewport height', parts[1], 1, MAX_VIEWPORT) };
  if (parts.length === 6) {
    const [sx, sy, sw, sh] = parts.slice(2).map((p, i) => integer(['sx', 'sy', 'sw', 'sh'][i], p, i < 2 ? 0 : -65_535, 65_535));
    if (sw === 0 || sh === 0) throw new GatewayError('BAD_REQUEST', 'the viewport source region has no width or height');
    viewport.source = { sx, sy, sw, sh };
  }
  return viewport;
}

function parseAnnotation(text: string): string[] {
  const values = text.split(',').map((v) => v.trim().toLowerCase());
  for (const value of values) if (value !== 'patient' && value !== 'technique') throw new GatewayError('BAD_REQUEST', `annotation '${value.slice(0, 32)}' is not patient or technique`);
  return values;
}
