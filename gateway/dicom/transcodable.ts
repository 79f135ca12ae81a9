/**
 * Which transfer syntaxes Aegis can transcode an instance to (PS3.18 §8.7.3: a client may ask for
 * a transfer syntax other than the stored one, and without `transfer-syntax=*` instances, frames
 * and bulk data default to Explicit VR Little Endian). Aegis decodes, it never compresses: the
 * targets are Explicit and Implicit VR Little Endian, from the compressed syntaxes whose frames
 * dcmjs-codecs decodes (its WebAssembly builds of libjpeg-turbo, CharLS, OpenJPEG, OpenJPH and
 * its RLE codec), from Deflated Explicit VR Little Endian (inflated) and from each other. Explicit
 * VR Big Endian is not transcoded. Pure data: the decoding itself is
 * `gateway/services/frame-codecs.ts`.
 */
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax.js';

/** The dcmjs-codecs decoder of each compressed transfer syntax Aegis decodes. */
export const FRAME_DECODERS: Readonly<Record<string, 'decodeJpeg' | 'decodeJpegLs' | 'decodeJpeg2000' | 'decodeHtJpeg2000' | 'decodeRle'>> = Object.freeze({
  '1.2.840.10008.1.2.4.50': 'decodeJpeg', // JPEG Baseline (Process 1)
  '1.2.840.10008.1.2.4.51': 'decodeJpeg', // JPEG Extended (Process 2 & 4), 12-bit
  '1.2.840.10008.1.2.4.57': 'decodeJpeg', // JPEG Lossless (Process 14)
  '1.2.840.10008.1.2.4.70': 'decodeJpeg', // JPEG Lossless, First-Order Prediction (Process 14 [SV1])
  '1.2.840.10008.1.2.4.80': 'decodeJpegLs', // JPEG-LS Lossless
  '1.2.840.10008.1.2.4.81': 'decodeJpegLs', // JPEG-LS Near-Lossless
  '1.2.840.10008.1.2.4.90': 'decodeJpeg2000', // JPEG 2000 (Lossless Only)
  '1.2.840.10008.1.2.4.91': 'decodeJpeg2000', // JPEG 2000
  '1.2.840.10008.1.2.4.201': 'decodeHtJpeg2000', // HTJ2K (Lossless Only)
  '1.2.840.10008.1.2.4.202': 'decodeHtJpeg2000', // HTJ2K with RPCL Options (Lossless Only)
  '1.2.840.10008.1.2.4.203': 'decodeHtJpeg2000', // HTJ2K
  '1.2.840.10008.1.2.5': 'decodeRle', // RLE Lossless
});

/** The transfer syntaxes Aegis transcodes to. */
export const TRANSCODE_TARGETS: readonly string[] = Object.freeze([EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]);

/** The syntaxes transcoded from, besides the compressed ones of {@link FRAME_DECODERS}. */
const NATIVE_SOURCES = new Set([DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]);

/** True when Aegis decodes the frames of this (compressed) transfer syntax. */
export function decodesFrames(transferSyntax: string): boolean {
  return Object.hasOwn(FRAME_DECODERS, transferSyntax);
}

/** The transfer syntaxes other than `stored` that an instance stored in `stored` can be sent in (none when it cannot be transcoded). */
export function transcodeTargets(stored: string): string[] {
  if (!decodesFrames(stored) && !NATIVE_SOURCES.has(stored)) return [];
  return TRANSCODE_TARGETS.filter((target) => target !== stored);
}
