/**
 * Byte striping of pixel data that cannot be segmented without decoding (docs/protection.md):
 * encapsulated pixel data (PS3.5 §8.2, A.4: the compressed bytes), and native pixel data whose
 * pixels do not own whole bytes (BitsAllocated 1) or whose layout Aegis does not segment. Stripe k
 * of `stripe` bytes goes to region k mod R. The default stripe is one byte: no region holds two
 * consecutive bytes of the value, so none holds a decodable piece of a compressed frame (a JPEG
 * header with the start of its scan) or a run of the original bytes.
 */
import { GatewayError } from '../../errors.js';
import { checkRegions, type SegmentationRefusal } from '../segmentation/segmentation.js';

/** Bytes per stripe unless told otherwise. */
export const DEFAULT_STRIPE_BYTES = 1;

/** Why the bytes were striped rather than segmented. */
export type StripeReason = 'encapsulated' | 'unreadable' | SegmentationRefusal['reason'];

/** What {@link joinStripes} needs (JSON, kept in the manifest). */
export interface StripeParameters {
  version: 1;
  algorithm: 'byte-stripes';
  /** R. */
  regions: number;
  /** Bytes per stripe; stripe k is in region k mod R. */
  stripe: number;
  /** Bytes of the striped value. */
  length: number;
  reason: StripeReason;
  /** The reason in words. */
  detail: string;
  /** Bytes of each region fragment. */
  regionBytes: number[];
}

/** Fragments and their parameters. */
export interface StripedBytes {
  regions: Uint8Array[];
  parameters: StripeParameters;
}

/** Stripes `bytes` across `regions` fragments (each with its own ArrayBuffer). */
export function stripeBytes(bytes: Uint8Array, regions: number, why: { reason: StripeReason; detail: string }, stripe = DEFAULT_STRIPE_BYTES): StripedBytes {
  checkRegions(regions);
  if (!Number.isInteger(stripe) || stripe < 1) throw new GatewayError('INTERNAL', `the stripe size must be a positive integer, got ${stripe}`);
  const regionBytes = stripeLengths(bytes.length, regions, stripe);
  const fragments = regionBytes.map((length) => new Uint8Array(length));
  if (stripe === 1) {
    for (let r = 0; r < regions; r++) {
      const fragment = fragments[r];
      for (let i = r, j = 0; i < bytes.length; i += regions, j++) fragment[j] = bytes[i];
    }
  } else {
    for (let k = 0, at = 0; at < bytes.length; k++, at += stripe) {
      const r = k % regions;
      fragments[r].set(bytes.subarray(at, at + stripe), Math.floor(k / regions) * stripe);
    }
  }
  return {
    regions: fragments,
    parameters: { version: 1, algorithm: 'byte-stripes', regions, stripe, length: bytes.length, reason: why.reason, detail: why.detail, regionBytes },
  };
}

/** The exact striped value back. Throws `INTEGRITY_FAILURE` when the fragments do not fit the parameters. */
export function joinStripes(regions: Uint8Array[], parameters: StripeParameters): Uint8Array {
  const { stripe, length } = parameters;
  if (parameters.algorithm !== 'byte-stripes' || !Number.isInteger(stripe) || stripe < 1 || !Number.isSafeInteger(length) || length < 0) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the stripe parameters are not byte-stripes parameters');
  }
  if (regions.length !== parameters.regions) {
    throw new GatewayError('INTEGRITY_FAILURE', `${regions.length} region fragments for ${parameters.regions} regions`);
  }
  const expected = stripeLengths(length, parameters.regions, stripe);
  regions.forEach((fragment, r) => {
    if (fragment.length !== expected[r]) {
      throw new GatewayError('INTEGRITY_FAILURE', `region fragment ${r} holds ${fragment.length} bytes, ${expected[r]} expected`);
    }
  });
  const bytes = new Uint8Array(length);
  const count = regions.length;
  if (stripe === 1) {
    for (let r = 0; r < count; r++) {
      const fragment = regions[r];
      for (let i = r, j = 0; i < length; i += count, j++) bytes[i] = fragment[j];
    }
  } else {
    for (let k = 0, at = 0; at < length; k++, at += stripe) {
      const from = Math.floor(k / count) * stripe;
      bytes.set(regions[k % count].subarray(from, from + Math.min(stripe, length - at)), at);
    }
  }
  return bytes;
}

/** Bytes of each region for a value of `length` bytes. */
function stripeLengths(length: number, regions: number, stripe: number): number[] {
  const stripes = Math.ceil(length / stripe);
  const lengths: number[] = [];
  for (let r = 0; r < regions; r++) {
    const mine = r < stripes ? Math.floor((stripes - 1 - r) / regions) + 1 : 0;
    lengths.push(mine * stripe);
  }
  if (stripes > 0) lengths[(stripes - 1) % regions] -= stripes * stripe - length;
  return lengths;
}

/**
 * Splits the value of an encapsulated Pixel Data element (the items with their tags and lengths,
 * or the fragments' bytes concatenated: the caller's choice, restored as given) across `regions`
 * fragments.
 */
export function splitEncapsulated(value: Uint8Array, regions: number, stripe = DEFAULT_STRIPE_BYTES): StripedBytes {
  return stripeBytes(
    value,
    regions,
    {
      reason: 'encapsulated',
      detail: 'encapsulated (compressed) pixel data cannot be segmented without decoding: its bytes are striped across the regions',
    },
    stripe,
  );
}

/** The exact value given to {@link splitEncapsulated}. Throws `INTEGRITY_FAILURE` like {@link joinStripes}. */
export function joinEncapsulated(regions: Uint8Array[], parameters: StripeParameters): Uint8Array {
  return joinStripes(regions, parameters);
}
