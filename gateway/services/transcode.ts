/**
 * Transcoding on request (PS3.18 §8.7.3): an instance, its frames or its pixel data bulk data in
 * a transfer syntax other than the stored one, made from the verified instance (the exact received
 * bytes that the retrieve service yields after its integrity checks). Aegis decodes and never
 * compresses: compressed pixel data (`dicom/transcodable.ts` lists the syntaxes), deflated data
 * sets and the other VR style become Explicit or Implicit VR Little Endian. A syntax asked for with `transfer-syntax=*`, or the stored
 * one, is never transcoded: the stored bytes are sent.
 *
 * Cost is bounded: frames are decoded one at a time, the event loop gets a turn between two of
 * them, an instance whose decoded pixel data would exceed `maxDecodedBytes` is refused before
 * anything is decoded, and decoding stops once it has run `maxSeconds`. Concurrent requests for
 * the same transcoded instance share one decoding (and its result, kept a while); a frames request
 * decodes only the frames it names.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { InstanceRow } from '../catalog/catalog.js';
import { datasetView, parseInstance } from '../dicom/parse.js';
import { nativeInstance, type NativePixels } from '../dicom/native-instance.js';
import { pixelGeometry } from '../dicom/pixel-geometry.js';
import { decodesFrames, transcodeTargets } from '../dicom/transcodable.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.js';
import type { DicomJson, PixelDataLayout } from '../dicom/types.js';
import { GatewayError } from '../errors.js';
import { decodedFrameLength, decodeFrame, frameCodecsReady, type FrameFormat } from './frame-codecs.js';
import { pixelLayout, readFrames, readInstance, type RetrieveDeps, type VerifiedInstances } from './retrieve.js';

/** The limits of transcoding, per instance. */
export interface TranscodeLimits {
  /** Largest decoded pixel data (all frames of an instance, or the frames of one request). */
  maxDecodedBytes: number;
  /** Longest time decoding one instance (or one request's frames) may take. */
  maxSeconds: number;
}

/** What transcoding needs: the retrieve service, the limits, and the transcoded instances kept a while. */
export interface TranscodeDeps extends RetrieveDeps {
  transcodeLimits: TranscodeLimits;
  transcoded?: VerifiedInstances;
}

/** An instance of the catalog in `target` (a syntax of {@link transcodeTargets}), from its verified bytes. */
export async function transcodedInstance(deps: TranscodeDeps, row: InstanceRow, target: string): Promise<Uint8Array> {
  const load = async () => transcodeInstance(await readInstance(deps, row), target, deps.transcodeLimits);
  return deps.transcoded ? deps.transcoded.get(`${row.sop_instance_uid}\0${row.sha256}\0${target}`, load) : load();
}

/** A Part 10 instance (the verified bytes, or a view derived from them) transcoded to `target`. */
export async function transcodeInstance(bytes: Uint8Array, target: string, limits: TranscodeLimits): Promise<Uint8Array> {
  const parsed = parseInstance(bytes);
  if (!transcodeTargets(parsed.transferSyntaxUID).includes(target)) throw notOffered(parsed.transferSyntaxUID, target);
  if (parsed.unreadablePixelData !== undefined) throw new GatewayError('NOT_ACCEPTABLE', `the pixel data cannot be decoded (${parsed.unreadablePixelData}); ask for transfer-syntax=* to get the stored bytes`);
  const layout = parsed.pixelData;
  let pixels: NativePixels | undefined;
  if (layout !== undefined && layout.encapsulated) {
    const view = datasetView(bytes, parsed);
    const encoded = layout.frames.map((fragments) => () => Buffer.concat(fragments.map(([offset, length]) => view.subarray(offset, offset + length))));
    pixels = await decodeFrames(parsed.transferSyntaxUID, frameFormat(parsed.metadata, layout), encoded, limits);
  }
  try {
    return nativeInstance(bytes, parsed, target, pixels);
  } catch (error) {
    if (!(error instanceof GatewayError) || error.code !== 'INVALID_DICOM') throw error;
    throw new GatewayError('NOT_ACCEPTABLE', `the instance cannot be written in ${target} (${error.message}); ask for transfer-syntax=* to get the stored bytes`, { cause: error });
  }
}

/** Frames (1-based numbers) of an instance stored compressed, decoded to native little-endian bytes. */
export async function decodedFrames(deps: TranscodeDeps, row: InstanceRow, numbers: number[]): Promise<Buffer[]> {
  const format = frameFormat(JSON.parse(row.metadata) as DicomJson, pixelLayout(row));
  if (!decodesFrames(row.transfer_syntax_uid)) throw notOffered(row.transfer_syntax_uid, EXPLICIT_VR_LITTLE_ENDIAN);
  const encoded = await readFrames(deps, row, numbers);
  const { frames } = await decodeFrames(
    row.transfer_syntax_uid,
    format,
    encoded.map((frame) => () => frame),
    deps.transcodeLimits,
  );
  return frames.map((frame) => Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
}

/** The Pixel Data value of an instance stored compressed, decoded: every frame back to back, padded to an even length. */
export async function decodedPixelData(deps: TranscodeDeps, row: InstanceRow): Promise<Buffer> {
  const layout = pixelLayout(row);
  const count = layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
  const frames = await decodedFrames(
    deps,
    row,
    Array.from({ length: count }, (_, i) => i + 1),
  );
  const length = frames.reduce((sum, frame) => sum + frame.length, 0);
  return Buffer.concat([...frames, new Uint8Array(length % 2)]);
}

/** The Image Pixel attributes a decoder needs. */
function frameFormat(metadata: DicomJson, layout: PixelDataLayout): FrameFormat {
  const g = pixelGeometry(metadata, layout);
  return {
    rows: g.rows,
    columns: g.columns,
    bitsAllocated: g.bitsAllocated,
    bitsStored: g.bitsStored,
    samplesPerPixel: g.samplesPerPixel,
    pixelRepresentation: g.pixelRepresentation,
    planarConfiguration: g.planarConfiguration,
    photometricInterpretation: g.photometricInterpretation,
  };
}

/** Decodes frames one at a time within the limits; each frame's encoded bytes are read only when its turn comes. */
async function decodeFrames(transferSyntax: string, format: FrameFormat, encoded: Array<() => Uint8Array>, limits: TranscodeLimits): Promise<NativePixels> {
  const decodedBytes = decodedFrameLength(format) * encoded.length;
  if (decodedBytes > limits.maxDecodedBytes) {
    throw new GatewayError(
      'NOT_ACCEPTABLE',
      `the decoded pixel data would take ${mib(decodedBytes)} MiB, more than the ${mib(limits.maxDecodedBytes)} MiB Aegis decodes at once (limits.maxTranscodeBytes); ask for fewer frames, or for transfer-syntax=* to get the stored bytes`,
    );
  }
  await frameCodecsReady();
  const deadline = Date.now() + limits.maxSeconds * 1000;
  const frames: Uint8Array[] = [];
  let last;
  for (const frame of encoded) {
    last = decodeFrame(transferSyntax, format, frame());
    frames.push(last.pixels);
    if (Date.now() > deadline) {
      throw new GatewayError(
        'NOT_ACCEPTABLE',
        `decoding took longer than ${limits.maxSeconds} s (limits.transcodeSeconds) after ${frames.length} of ${encoded.length} frames; ask for fewer frames, or for transfer-syntax=* to get the stored bytes`,
      );
    }
    await nextTurn();
  }
  return {
    frames,
    bitsAllocated: format.bitsAllocated,
    samplesPerPixel: format.samplesPerPixel,
    photometricInterpretation: last?.photometricInterpretation ?? format.photometricInterpretation,
    planarConfiguration: last?.planarConfiguration ?? format.planarConfiguration,
  };
}

/** NOT_ACCEPTABLE naming what an instance stored in `stored` can be sent in. */
export function notOffered(stored: string, target: string): GatewayError {
  return new GatewayError('NOT_ACCEPTABLE', `cannot transcode from ${stored} to ${target}: ${offeredText(stored)}`);
}

/** What an instance stored in `stored` is offered in, as a sentence fragment for reasons. */
export function offeredText(stored: string): string {
  const targets = transcodeTargets(stored);
  return `offered as stored (transfer-syntax=* or ${stored})${targets.length > 0 ? ` and transcoded to ${targets.join(', ')}` : ''}`;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
