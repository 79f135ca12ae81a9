/**
 * Encoding a rendered frame in a rendered media type (PS3.18 §8.7.4: image/jpeg, image/png,
 * image/gif) with `sharp` (libvips), after the viewport of PS3.18 §8.3.5.1.3: the source region
 * (sx, sy, sw, sh; a negative width or height flips the image along that axis) is cut out, then
 * scaled, keeping its aspect ratio, to fit within vw x vh pixels. Grayscale images are encoded with
 * one channel; colour with three. The quality (1-100) applies to the lossy JPEG encoding. `sharp`
 * (and libvips with it) is loaded on the first encoding: a gateway that never renders does not carry it.
 */
import type Sharp from 'sharp';
import { GatewayError } from '../errors.js';
import type { RenderedFrame } from './render-image.js';

/** The rendered media types Aegis encodes. */
export const RENDERED_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif'] as const;

/** A rendered media type. */
export type RenderedMediaType = (typeof RENDERED_MEDIA_TYPES)[number];

/** The viewport of PS3.18 §8.3.5.1.3. */
export interface Viewport {
  /** Width and height of the viewport, in pixels. */
  vw: number;
  vh: number;
  /** The source region, in pixels of the frame; absent: the whole frame. */
  source?: { sx: number; sy: number; sw: number; sh: number };
}

/** How to encode a rendered frame. */
export interface EncodeOptions {
  mediaType: RenderedMediaType;
  viewport?: Viewport;
  /** JPEG quality, 1-100. */
  quality: number;
}

/** The encoded image, with its size in pixels. */
export interface EncodedImage {
  bytes: Buffer;
  width: number;
  height: number;
}

let library: Promise<typeof Sharp> | undefined;

/**
 * Largest GIF made, in pixels: the GIF encoder (palette quantisation) is slow, about half a second
 * for 1024 x 1024 and over a minute for 4096 x 4096, while PNG and JPEG take well under a second.
 */
export const MAX_GIF_PIXELS = 1024 * 1024;

/** BAD_REQUEST (a viewport asks for it) or NOT_ACCEPTABLE when a GIF of the `sw` x `sh` source scaled into `viewport` is larger than {@link MAX_GIF_PIXELS}. */
function refuseLargeGif(viewport: Viewport | undefined, { sw, sh }: { sw: number; sh: number }): void {
  const [width, height] = [Math.abs(sw), Math.abs(sh)];
  const scale = viewport === undefined ? 1 : Math.min(viewport.vw / width, viewport.vh / height);
  const [outWidth, outHeight] = [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  if (outWidth * outHeight <= MAX_GIF_PIXELS) return;
  const reason = `a GIF of ${outWidth} x ${outHeight} pixels is larger than the ${MAX_GIF_PIXELS} pixels (1024 x 1024) Aegis encodes as GIF`;
  throw new GatewayError(viewport === undefined ? 'NOT_ACCEPTABLE' : 'BAD_REQUEST', `${reason}; ask for a smaller viewport, or for image/png or image/jpeg`);
}

/**
 * Encodes `frame` as `options` say; BAD_REQUEST when the viewport's source region lies outside the
 * frame, or a GIF would be larger than {@link MAX_GIF_PIXELS} (NOT_ACCEPTABLE without a viewport).
 */
export async function encodeFrame(frame: RenderedFrame, options: EncodeOptions): Promise<EncodedImage> {
  const sharp = await (library ??= import('sharp').then(
    (module) => module.default,
    (error: unknown) => {
      library = undefined;
      throw new GatewayError('INTERNAL', 'the image encoder (sharp) could not be loaded', { cause: error });
    },
  ));
  let image = sharp(frame.rgba, { raw: { width: frame.width, height: frame.height, channels: 4 } }).removeAlpha();
  if (frame.grayscale) image = image.extractChannel(0).toColourspace('b-w');
  const viewport = options.viewport;
  if (viewport?.source !== undefined) {
    const { sx, sy, sw, sh } = viewport.source;
    const width = Math.abs(sw);
    const height = Math.abs(sh);
    if (sx + width > frame.width || sy + height > frame.height) {
      throw new GatewayError('BAD_REQUEST', `the viewport's source region ${sx},${sy},${sw},${sh} lies outside the ${frame.width} x ${frame.height} frame`);
    }
    // Each step is a pipeline of its own, so that the region is cut before the flips and the scaling.
    image = sharp(await image.extract({ left: sx, top: sy, width, height }).toBuffer(), { raw: { width, height, channels: frame.grayscale ? 1 : 3 } });
    if (sw < 0) image = image.flop();
    if (sh < 0) image = image.flip();
  }
  if (viewport !== undefined) image = image.resize({ width: viewport.vw, height: viewport.vh, fit: 'inside' });
  if (options.mediaType === 'image/gif') refuseLargeGif(viewport, viewport?.source ?? { sw: frame.width, sh: frame.height });
  if (options.mediaType === 'image/jpeg') image = image.jpeg({ quality: options.quality, chromaSubsampling: '4:4:4' });
  else if (options.mediaType === 'image/png') image = image.png();
  else image = image.gif();
  const { data, info } = await image.toBuffer({ resolveWithObject: true });
  return { bytes: data, width: info.width, height: info.height };
}
