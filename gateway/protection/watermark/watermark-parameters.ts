/**
 * The parameters of a reversible watermark (`watermark.ts`): the record of its passes that the
 * signed manifest keeps, the limits on it, and its validation before extraction, which refuses
 * with `INTEGRITY_FAILURE` anything malformed or inconsistent with the pixel geometry. Pure: no I/O.
 */
import { GatewayError } from '../../errors.js';
import { samplesPerFrame, valueRange, type PixelGeometry } from '../../dicom/pixel-geometry.js';
import { decodePositions } from './watermark-scan.js';

/** The scheme name recorded in {@link WatermarkParameters}. */
export const WATERMARK_SCHEME = 'histogram-shifting-ni2006';
/** The smallest payload: 256 bits (an HMAC-SHA-256). */
export const MIN_PAYLOAD_BYTES = 32;
/** The most passes (pairs of peak and zero points) one watermark may use. */
export const MAX_PASSES = 16;
/** The most samples holding a pass's zero point that may be listed (and left untouched). */
export const MAX_SKIPPED_SAMPLES = 1024;

/** One pair of peak and zero points, applied to a prefix of the visiting order. */
export interface WatermarkPass {
  /** The peak point P: stored value (signed for Pixel Representation 1) of the carrier samples. */
  peak: number;
  /** The zero point Z: values strictly between P and Z moved one step towards Z. */
  zero: number;
  /** The pass touches the first `samples` samples of the visiting order. */
  samples: number;
  /** Payload bits it carries: one per sample of value P among them. */
  bits: number;
  /** Positions (in the scan) of samples that held Z, left untouched: ascending, delta LEB128, base64url. */
  skipped: string;
  skippedCount: number;
}

/** What extraction needs besides the watermarked pixels and the order; JSON-serializable. */
export interface WatermarkParameters {
  scheme: typeof WATERMARK_SCHEME;
  version: 1;
  /** Payload length in bits: the sum of the passes' bits. */
  payloadBits: number;
  /** The largest prefix any pass touches. */
  samplesScanned: number;
  /** SHA-256 (hex) of the scanned samples' byte offsets and the sample format: the order check. */
  scanDigest: string;
  /** In embedding order; extraction undoes them last first. */
  passes: WatermarkPass[];
  /** Samples that differ from the original; informative. */
  samplesChanged: number;
}

/** The label of the scan digest: the scheme and the sample format it was computed for. */
export function digestLabel(geometry: PixelGeometry): string {
  const { bitsAllocated, bitsStored, highBit, pixelRepresentation, bigEndian } = geometry;
  return `${WATERMARK_SCHEME} ${bitsAllocated}/${bitsStored}/${highBit}/${pixelRepresentation}/${bigEndian ? 'BE' : 'LE'}`;
}

/** Validates parameters against the geometry; returns the passes with their skipped positions decoded. */
export function checkWatermarkParameters(p: WatermarkParameters, geometry: PixelGeometry): Array<WatermarkPass & { positions: number[] }> {
  if (p === null || typeof p !== 'object') throw watermarkIntegrityError('watermark parameters are not an object');
  const { min, max } = valueRange(geometry);
  const total = samplesPerFrame(geometry) * geometry.frames;
  const int = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;
  const problems: string[] = [];
  if (p.scheme !== WATERMARK_SCHEME || p.version !== 1) problems.push(`scheme ${JSON.stringify(p.scheme)} version ${JSON.stringify(p.version)} is not ${WATERMARK_SCHEME} version 1`);
  if (!int(p.samplesScanned, 1, total)) problems.push(`samplesScanned ${p.samplesScanned} is not 1..${total}`);
  if (!int(p.payloadBits, 8 * MIN_PAYLOAD_BYTES, total) || p.payloadBits % 8 !== 0) problems.push(`payloadBits ${p.payloadBits} is not a whole number of bytes, at least ${8 * MIN_PAYLOAD_BYTES}`);
  if (typeof p.scanDigest !== 'string' || !/^[0-9a-f]{64}$/.test(p.scanDigest)) problems.push('scanDigest is not a SHA-256 in hex');
  const passes = Array.isArray(p.passes) && p.passes.length >= 1 && p.passes.length <= MAX_PASSES ? p.passes : [];
  if (passes.length === 0) problems.push(`passes is not a list of 1 to ${MAX_PASSES} passes`);
  const checked = passes.map((pass, j) => {
    if (pass === null || typeof pass !== 'object') return problems.push(`pass ${j} is not an object`) && undefined;
    if (!int(pass.peak, min, max) || !int(pass.zero, min, max) || pass.peak === pass.zero) problems.push(`pass ${j}: peak ${pass.peak} and zero ${pass.zero} must be distinct values of ${min}..${max}`);
    if (!int(pass.samples, 1, p.samplesScanned) || !int(pass.bits, 1, pass.samples)) problems.push(`pass ${j}: samples ${pass.samples} and bits ${pass.bits} do not fit the scan`);
    const positions = int(pass.skippedCount, 0, MAX_SKIPPED_SAMPLES) ? decodePositions(pass.skipped, pass.skippedCount, pass.samples) : undefined;
    if (positions === undefined) problems.push(`pass ${j}: skipped (${pass.skippedCount}) is not an ascending list of at most ${MAX_SKIPPED_SAMPLES} positions of the pass`);
    return { ...pass, positions: positions ?? [] };
  });
  if (passes.length > 0 && passes.reduce((sum, pass) => sum + pass.bits, 0) !== p.payloadBits) problems.push(`the passes' bits do not add up to payloadBits ${p.payloadBits}`);
  if (passes.length > 0 && Math.max(...passes.map((pass) => pass.samples)) !== p.samplesScanned) problems.push('samplesScanned is not the largest pass');
  if (problems.length > 0) throw watermarkIntegrityError(`malformed watermark parameters: ${problems.join('; ')}`);
  return checked as Array<WatermarkPass & { positions: number[] }>;
}

/** The INTEGRITY_FAILURE of a watermark that does not verify. */
export function watermarkIntegrityError(message: string): GatewayError {
  return new GatewayError('INTEGRITY_FAILURE', `watermark: ${message}`);
}
