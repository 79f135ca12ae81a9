/**
 * Decoding one compressed frame (PS3.5 §8.2 and Annex A.4: JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE)
 * into native pixel data (PS3.5 §8.1.1) with dcmjs-codecs: its WebAssembly builds of
 * libjpeg-turbo, CharLS, OpenJPEG, OpenJPH and its RLE decoder, never a hand-written decoder.
 * The library (about a second to load, with dcmjs) is loaded and its WebAssembly module
 * instantiated once per process, on first use, so that a gateway that never transcodes does not
 * start slower. What the decoder gives
 * back is checked against the frame's geometry; anything it cannot do is NOT_ACCEPTABLE with the
 * codec's reason (the stored bytes stay available with `transfer-syntax=*`).
 */
import { createRequire } from 'node:module';
import type DcmjsCodecs from 'dcmjs-codecs';
import { frameSizeProblem } from '../dicom/frame-header.js';
import { FRAME_DECODERS } from '../dicom/transcodable.js';
import { frameMediaType } from '../dicom/transfer-syntax.js';
import { GatewayError } from '../errors.js';

let library: typeof DcmjsCodecs | undefined;

/** dcmjs-codecs (a CommonJS package), loaded on first use. */
function codecs(): typeof DcmjsCodecs {
  library ??= createRequire(import.meta.url)('dcmjs-codecs') as typeof DcmjsCodecs;
  return library;
}

/** What a decoder must know about a frame (the Image Pixel attributes of PS3.3 C.7.6.3). */
export interface FrameFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  samplesPerPixel: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  photometricInterpretation: string;
}

/** A decoded frame: native pixel bytes (little endian) and how they are to be read. */
export interface DecodedFrame {
  pixels: Uint8Array;
  /** The Photometric Interpretation of the decoded pixels (YBR_* of JPEG and YBR_RCT/ICT of JPEG 2000 become RGB). */
  photometricInterpretation: string;
  planarConfiguration: 0 | 1;
}

let ready: Promise<void> | undefined;

/** Instantiates the codecs' WebAssembly module (once per process; a failed attempt is retried next time). */
export function frameCodecsReady(): Promise<void> {
  ready ??= Promise.resolve()
    .then(() => codecs().NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false }))
    .catch((error: unknown) => {
      ready = undefined;
      throw new GatewayError('NOT_ACCEPTABLE', `the image codecs cannot be loaded (${(error as Error).message}); ask for transfer-syntax=* to get the stored bytes`, { cause: error });
    });
  return ready;
}

/** Bytes of one decoded frame in this format (Bits Allocated 8, 16 or 32). */
export function decodedFrameLength(format: FrameFormat): number {
  return format.rows * format.columns * format.samplesPerPixel * (format.bitsAllocated / 8);
}

/**
 * Why frames of this format cannot be decoded to native pixel data, or undefined when they can.
 * Native pixel data of these decoders has 8, 16 or 32 bits per sample, one or three samples.
 */
export function undecodableFormat(format: FrameFormat): string | undefined {
  if (![8, 16, 32].includes(format.bitsAllocated)) return `Bits Allocated is ${format.bitsAllocated} (the decoders write 8, 16 or 32-bit samples)`;
  if (format.samplesPerPixel !== 1 && format.samplesPerPixel !== 3) return `Samples per Pixel is ${format.samplesPerPixel} (the decoders handle 1 or 3)`;
  return undefined;
}

/**
 * Decodes one frame stored in `transferSyntax` (call {@link frameCodecsReady} first). Throws
 * NOT_ACCEPTABLE when the frame's codestream declares another size than the format's, or the codec
 * refuses the frame or returns fewer bytes than the format needs.
 */
export function decodeFrame(transferSyntax: string, format: FrameFormat, encoded: Uint8Array): DecodedFrame {
  const decoder = FRAME_DECODERS[transferSyntax];
  const unsupported = decoder === undefined ? `transfer syntax ${transferSyntax} is not decoded by Aegis` : undecodableFormat(format);
  if (unsupported !== undefined) throw cannotDecode(unsupported);
  // The decoders size their output from the codestream: a frame claiming more than the data set's size is never decoded.
  const mismatch = frameSizeProblem(frameMediaType(transferSyntax), encoded, format);
  if (mismatch !== undefined) throw cannotDecode(mismatch);
  const { Context, NativeCodecs } = codecs();
  const context = new Context({ width: format.columns, height: format.rows, ...format, encodedBuffer: encoded });
  // JPEG stores colour as YCbCr: libjpeg-turbo converts it to RGB, as the native form requires.
  const toRgb = decoder === 'decodeJpeg' && format.samplesPerPixel === 3 && format.photometricInterpretation !== 'RGB';
  let decoded;
  try {
    decoded = NativeCodecs[decoder](context, { convertColorspaceToRgb: toRgb });
  } catch (error) {
    throw cannotDecode(String((error as Error).message ?? error).trim(), error);
  }
  const pixels = decoded.getDecodedBuffer();
  const expected = decodedFrameLength(format);
  if (pixels === undefined || pixels.length < expected) throw cannotDecode(`the decoder returned ${pixels?.length ?? 0} bytes for a frame of ${expected}`);
  return {
    pixels: pixels.length === expected ? pixels : pixels.subarray(0, expected),
    photometricInterpretation: decodedPhotometric(decoded.getPhotometricInterpretation() ?? format.photometricInterpretation, toRgb),
    planarConfiguration: format.samplesPerPixel > 1 && decoded.getPlanarConfiguration() === 1 ? 1 : 0,
  };
}

/** The colour model of decoded pixels: JPEG 2000's reversible and irreversible colour transforms are undone by OpenJPEG. */
function decodedPhotometric(photometric: string, toRgb: boolean): string {
  if (toRgb || photometric === 'YBR_RCT' || photometric === 'YBR_ICT') return 'RGB';
  return photometric;
}

function cannotDecode(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('NOT_ACCEPTABLE', `the pixel data cannot be decoded (${reason}); ask for transfer-syntax=* to get the stored bytes`, { cause });
}
