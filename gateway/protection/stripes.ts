/**
 * Byte striping across regions, for pixel data that cannot be segmented by intensity (encapsulated
 * or deflated data, bit-packed pixels): stripes of a fixed size go round-robin to the R region
 * fragments, so no region fragment holds a whole frame or a long run of it (DESIGN.md "Split":
 * "split its bytes across the region fragments instead, and say so in the manifest").
 */
import { GatewayError } from '../errors.js';

/** Default stripe size: small enough that a compressed frame is spread over every region. */
export const STRIPE_BYTES = 4096;

/** Parameters recorded in the manifest. */
export interface StripeParameters {
  [key: string]: number;
  stripeBytes: number;
  regions: number;
  length: number;
}

/** Splits `bytes` into `regions` fragments of round-robin stripes. */
export function stripe(bytes: Uint8Array, regions: number, stripeBytes = STRIPE_BYTES): { parts: Uint8Array[]; parameters: StripeParameters } {
  if (!Number.isInteger(regions) || regions < 1) throw new GatewayError('INTERNAL', `cannot stripe over ${regions} regions`);
  const sizes = new Array<number>(regions).fill(0);
  for (let offset = 0, i = 0; offset < bytes.length; offset += stripeBytes, i = (i + 1) % regions) sizes[i] += Math.min(stripeBytes, bytes.length - offset);
  const parts = sizes.map((size) => new Uint8Array(size));
  const filled = new Array<number>(regions).fill(0);
  for (let offset = 0, i = 0; offset < bytes.length; offset += stripeBytes, i = (i + 1) % regions) {
    const piece = bytes.subarray(offset, Math.min(offset + stripeBytes, bytes.length));
    parts[i].set(piece, filled[i]);
    filled[i] += piece.length;
  }
  return { parts, parameters: { stripeBytes, regions, length: bytes.length } };
}

/** The inverse of {@link stripe}; INTEGRITY_FAILURE when the parts do not fit the parameters. */
export function unstripe(parts: readonly Uint8Array[], parameters: StripeParameters): Uint8Array {
  const { stripeBytes, regions, length } = parameters;
  const expected = stripe(new Uint8Array(0), regions, stripeBytes).parts.map(() => 0);
  for (let offset = 0, i = 0; offset < length; offset += stripeBytes, i = (i + 1) % regions) expected[i] += Math.min(stripeBytes, length - offset);
  if (parts.length !== regions || parts.some((p, i) => p.length !== expected[i])) throw new GatewayError('INTEGRITY_FAILURE', 'the striped pixel fragments do not add up');
  const out = new Uint8Array(length);
  const read = new Array<number>(regions).fill(0);
  for (let offset = 0, i = 0; offset < length; offset += stripeBytes, i = (i + 1) % regions) {
    const size = Math.min(stripeBytes, length - offset);
    out.set(parts[i].subarray(read[i], read[i] + size), offset);
    read[i] += size;
  }
  return out;
}
