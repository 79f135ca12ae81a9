/**
 * Rendering one frame of a DICOM instance to display pixels (PS3.18 §8.3.5, the rendering of
 * PS3.4 Annex N "Pixel Transformation Sequence" without presentation states): decoding by
 * `dcmjs-imaging` (native pixel data, and through its WebAssembly build of the native codecs JPEG
 * baseline/extended/lossless, JPEG-LS, JPEG 2000, HTJ2K and RLE), the Modality LUT (Rescale Slope
 * and Intercept), the VOI LUT (a window, with the function LINEAR, LINEAR_EXACT or SIGMOID of
 * PS3.3 C.11.2.1.2), MONOCHROME1 inverted, colour (RGB, YBR, palette colour) converted to RGB, and
 * overlays left out (they may carry annotations; a rendered image shows the pixels only).
 *
 * The library is loaded, and its decoders' WebAssembly module initialised, once per process on the
 * first render: a gateway that never renders does not carry them. Only the asked frame is decoded,
 * and only when its codestream declares the instance's own Rows and Columns (`frame-header.ts`: the
 * decoders size their output from the codestream). Whatever the library cannot render is a
 * NOT_ACCEPTABLE with its reason.
 */
import type DcmjsImaging from 'dcmjs-imaging';
import { GatewayError } from '../errors.js';
import { frameSizeProblem } from './frame-header.js';
import { datasetView, parseInstance } from './parse.js';
import type { DicomJson } from './types.js';

type Imaging = typeof DcmjsImaging;

/** The VOI LUT Functions of PS3.3 C.11.2.1.3 (0028,1056). */
export type WindowFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** A window (VOI LUT) to apply instead of the instance's own. */
export interface RenderWindow {
  center: number;
  width: number;
  function: WindowFunction;
}

/** What to render of an instance. */
export interface RenderOptions {
  /** The frame, 1-based. */
  frame: number;
  /** The window; without one, the instance's first Window Center/Width (else the pixel range). */
  window?: RenderWindow;
}

/** One rendered frame: 8-bit RGBA display pixels, row by row. */
export interface RenderedFrame {
  width: number;
  height: number;
  rgba: Uint8Array;
  /** True when the image is grayscale (R = G = B everywhere): it may be encoded with one channel. */
  grayscale: boolean;
}

let initialised: Promise<Imaging> | undefined;

/** The part of dcmjs-imaging's decoder that {@link correctPlanarConfiguration} corrects. */
interface DecodingContextFactory {
  _createDecodingContext(image: { getPlanarConfiguration(): number }, buffer: Uint8Array): { setPlanarConfiguration(value: number): void };
}

/** The decoders {@link correctPlanarConfiguration} has corrected (an initialisation that failed is retried). */
const corrected = new WeakSet<DecodingContextFactory>();

/**
 * dcmjs-imaging 0.2.5 tells the native decoders the opposite of the instance's Planar Configuration
 * (0 becomes planar, 1 interleaved), while its pixel pipeline reads the decoded frame as the
 * instance says. Decoders that follow the flag (RLE) then hand back colour samples in the other
 * order, and a colour RLE image renders as garbage. The context is given the instance's own value.
 * A decoder is corrected once, however often it is asked.
 */
function correctPlanarConfiguration(decoder: DecodingContextFactory): void {
  if (corrected.has(decoder)) return;
  corrected.add(decoder);
  const create = decoder._createDecodingContext.bind(decoder);
  decoder._createDecodingContext = (image, buffer) => {
    const context = create(image, buffer);
    context.setPlanarConfiguration(image.getPlanarConfiguration() ? 1 : 0);
    return context;
  };
}

/** Loads the library and initialises its decoders' WebAssembly module, once per process (later calls share it). */
export function initialiseRenderer(): Promise<Imaging> {
  initialised ??= (async () => {
    const imaging = (await import('dcmjs-imaging')).default;
    correctPlanarConfiguration(imaging.NativePixelDecoder as unknown as DecodingContextFactory);
    // The library writes its warnings to the console; what matters to a request reaches it as an error.
    imaging.log.setLevel('silent');
    await imaging.NativePixelDecoder.initializeAsync({ logNativeDecodersMessages: false });
    return imaging;
  })().catch((error: unknown) => {
    initialised = undefined;
    throw new GatewayError('INTERNAL', 'the image decoders (dcmjs-imaging WebAssembly) could not be initialised', { cause: error });
  });
  return initialised;
}

/**
 * Renders frame `options.frame` of the Part 10 instance `bytes`. NOT_ACCEPTABLE (with the reason)
 * when the instance cannot be rendered: no pixel data, a photometric interpretation or transfer
 * syntax the decoders do not support, corrupt compressed data.
 */
export async function renderFrame(bytes: Uint8Array, options: RenderOptions): Promise<RenderedFrame> {
  const mismatch = encodedSizeProblem(bytes, options.frame);
  if (mismatch !== undefined) throw unrenderable(`frame ${options.frame} is not rendered: ${mismatch}`);
  const { DicomImage, WindowLevel } = await initialiseRenderer();
  let image: InstanceType<Imaging['DicomImage']>;
  try {
    image = new DicomImage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (error) {
    throw unrenderable('the instance cannot be read for rendering', error);
  }
  const photometric = String(image.getElement('PhotometricInterpretation') ?? '').trim();
  const grayscale = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const bitsAllocated = Number(image.getElement('BitsAllocated'));
  if (!grayscale && photometric !== 'PALETTE COLOR' && bitsAllocated > 8) {
    // dcmjs-imaging maps such samples to display values wrongly (checked against pydicom): refused rather than shown wrong.
    throw unrenderable(`${photometric} images of ${bitsAllocated} bits allocated are not rendered`);
  }
  let windowLevel: InstanceType<Imaging['WindowLevel']> | undefined;
  if (options.window !== undefined && grayscale) {
    const { center, width } = options.window;
    image.setElement('VOILUTFunction', options.window.function);
    // dcmjs-imaging's LINEAR_EXACT omits the +0.5 of PS3.3 C.11.2.1.3.2 (y = ((x - c) / w + 0.5) * 255):
    // a center moved down by half the width gives exactly the standard's function.
    windowLevel = new WindowLevel(width, options.window.function === 'LINEAR_EXACT' ? center - width / 2 : center);
  }
  let result: ReturnType<InstanceType<Imaging['DicomImage']>['render']>;
  try {
    result = image.render({ frame: options.frame - 1, windowLevel, renderOverlays: false, calculateHistograms: false });
  } catch (error) {
    throw unrenderable(`frame ${options.frame} cannot be rendered (${photometric || 'no photometric interpretation'}, transfer syntax ${image.getTransferSyntaxUid()})`, error);
  }
  const rgba = new Uint8Array(result.pixels);
  if (rgba.length !== result.width * result.height * 4) throw unrenderable(`frame ${options.frame} decoded to ${rgba.length} bytes, not ${result.width} x ${result.height} RGBA pixels`);
  return { width: result.width, height: result.height, rgba, grayscale };
}

/** Why frame `frame` of an instance with encapsulated pixel data is not to be decoded (see `frame-header.ts`); undefined otherwise. */
function encodedSizeProblem(bytes: Uint8Array, frame: number): string | undefined {
  let parsed;
  try {
    parsed = parseInstance(bytes);
  } catch (error) {
    throw unrenderable('the instance cannot be read for rendering', error);
  }
  const layout = parsed.pixelData;
  const first = layout?.encapsulated ? layout.frames[frame - 1]?.[0] : undefined;
  if (layout === undefined || !layout.encapsulated || first === undefined) return undefined;
  const view = datasetView(bytes, parsed);
  const size = (tag: string) => Number((parsed.metadata as DicomJson)[tag]?.Value?.[0]);
  return frameSizeProblem(layout.mediaType, view.subarray(first[0], first[0] + first[1]), { rows: size('00280010'), columns: size('00280011') });
}

function unrenderable(reason: string, cause?: unknown): GatewayError {
  const detail = cause instanceof Error ? `: ${cause.message.slice(0, 200)}` : '';
  return new GatewayError('NOT_ACCEPTABLE', `${reason}${detail}; retrieve the instance or its frames instead`, { cause });
}
