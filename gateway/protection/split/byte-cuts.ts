/**
 * Byte ranges cut out of an instance and spliced back (fragments are byte ranges of the instance
 * plus what is needed to restore it, docs/protection.md). Cutting never parses or re-encodes:
 * the skeleton is the instance with the ranges removed, and splicing puts the very same bytes back
 * at their offsets, so the round trip is exact by construction.
 */
import { GatewayError } from '../../errors.js';

/** A range of the instance, `[offset, offset + length)`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * Sorts ranges and checks they are disjoint and inside `total` bytes; empty ranges are dropped.
 * A range whose offset or length is not a non-negative integer is refused, never dropped.
 */
export function normalizeRanges(ranges: readonly ByteRange[], total: number): ByteRange[] {
  for (const r of ranges) if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0) throw badRange(r, total);
  const sorted = ranges.filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const r of sorted) {
    if (r.offset < end || r.offset + r.length > total) throw badRange(r, total);
    end = r.offset + r.length;
  }
  return sorted;
}

function badRange(r: ByteRange, total: number): GatewayError {
  return new GatewayError('INTEGRITY_FAILURE', `byte range ${r.offset}+${r.length} overlaps another or lies outside ${total} bytes`);
}

/** The bytes outside `ranges` (the skeleton) and the bytes of each range, in order. */
export function cutRanges(bytes: Uint8Array, ranges: readonly ByteRange[]): { kept: Uint8Array; cut: Uint8Array[] } {
  const sorted = normalizeRanges(ranges, bytes.length);
  const removed = sorted.reduce((n, r) => n + r.length, 0);
  const kept = new Uint8Array(bytes.length - removed);
  const cut: Uint8Array[] = [];
  let from = 0;
  let to = 0;
  for (const r of sorted) {
    kept.set(bytes.subarray(from, r.offset), to);
    to += r.offset - from;
    cut.push(bytes.subarray(r.offset, r.offset + r.length));
    from = r.offset + r.length;
  }
  kept.set(bytes.subarray(from), to);
  return { kept, cut };
}

/**
 * The inverse of {@link cutRanges}: `pieces[i]` goes back at `ranges[i].offset` (ranges sorted as
 * {@link normalizeRanges} sorts them), into `into` when given (its length must be the total); a
 * null piece is one the caller has written into `into` already. Throws INTEGRITY_FAILURE when the
 * sizes do not add up.
 */
export function spliceRanges(kept: Uint8Array, ranges: readonly ByteRange[], pieces: ReadonlyArray<Uint8Array | null>, into?: Uint8Array): Uint8Array {
  const total = kept.length + ranges.reduce((n, r) => n + r.length, 0);
  const sorted = normalizeRanges(ranges, total);
  if (sorted.length !== pieces.length || sorted.some((r, i) => pieces[i] !== null && pieces[i].length !== r.length)) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the cut pieces do not match their recorded ranges');
  }
  if (pieces.includes(null) && into === undefined) throw new GatewayError('INTERNAL', 'a piece left to the caller without a target');
  if (into !== undefined && into.length !== total) throw new GatewayError('INTERNAL', `the spliced instance has ${total} bytes, the target ${into.length}`);
  const out = into ?? new Uint8Array(total);
  let from = 0;
  let to = 0;
  sorted.forEach((r, i) => {
    const before = r.offset - to;
    out.set(kept.subarray(from, from + before), to);
    from += before;
    const piece = pieces[i];
    if (piece !== null) out.set(piece, r.offset);
    to = r.offset + r.length;
  });
  out.set(kept.subarray(from), to);
  if (from + (total - to) !== kept.length) throw new GatewayError('INTEGRITY_FAILURE', 'the skeleton does not match its recorded ranges');
  return out;
}
