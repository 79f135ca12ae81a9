/**
 * The hot loops of the pixel split (gateway/protection/segmentation/pixel-kernels.ts loads them), in AssemblyScript,
 * compiled to WebAssembly by `npm run build:kernels` (scripts/build-kernels.mjs) into
 * gateway/protection/segmentation/pixel-kernels.wasm.ts. They see only the module's linear memory: the caller copies
 * pixels and labels in and results out, and passes byte addresses. No allocation, no state.
 *
 * Element values are read little endian (WebAssembly's byte order); what a value means (byte order
 * of the data set, Bits Stored, sign) is the caller's table's business.
 */

/** The first byte the caller may use: memory below holds this module's own data. */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * Adds every `step`-th of the `count` 16-bit elements at `px` (the first, then every `step`-th
 * after it) to the 65,536 u32 counters at `hist`.
 */
export function histogram16(px: usize, count: u32, step: u32, hist: usize): void {
  histogram<u16>(px, count, step, hist);
}

/** {@link histogram16} for bytes (256 counters). */
export function histogram8(px: usize, count: u32, step: u32, hist: usize): void {
  histogram<u8>(px, count, step, hist);
}

function histogram<T>(px: usize, count: u32, step: u32, hist: usize): void {
  const end = px + ((<usize>count) << alignof<T>());
  const stride = (<usize>step) << alignof<T>();
  for (let at = px; at < end; at += stride) {
    const slot = hist + ((<usize>load<T>(at)) << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
}

/**
 * Labels the `count` 16-bit elements at `px`: labels[i] = table[element i] (table: 65,536 bytes).
 * Counts the pixels of each label (u32 counters at `counts`, one per possible label) and writes
 * the run-length code of the labels (label-map.ts, mode 0: each run's label, then its length - 1
 * in unsigned LEB128) from `runs`. Returns the bytes of runs, or -1 when they would pass
 * `runsLimit` (the labels and counts are complete either way).
 */
export function label16(px: usize, count: u32, table: usize, labels: usize, counts: usize, runs: usize, runsLimit: u32): i32 {
  return label<u16>(px, count, table, labels, counts, runs, runsLimit);
}

/** {@link label16} for bytes (table: 256 bytes). */
export function label8(px: usize, count: u32, table: usize, labels: usize, counts: usize, runs: usize, runsLimit: u32): i32 {
  return label<u8>(px, count, table, labels, counts, runs, runsLimit);
}

function label<T>(px: usize, count: u32, table: usize, labels: usize, counts: usize, runs: usize, runsLimit: u32): i32 {
  if (count == 0) return 0;
  let at = runs;
  const end = runs + <usize>runsLimit;
  let overflow = false;
  let current = load<u8>(table + <usize>load<T>(px));
  let start: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const next = load<u8>(table + <usize>load<T>(px + ((<usize>i) << alignof<T>())));
    store<u8>(labels + <usize>i, next);
    if (next != current) {
      at = endRun(current, i - start, counts, at, end, overflow);
      overflow = at == 0;
      current = next;
      start = i;
    }
  }
  at = endRun(current, count - start, counts, at, end, overflow);
  return at == 0 ? -1 : <i32>(at - runs);
}

/** Counts a run and writes its code at `at` (unless `overflow`); returns the next address, 0 on overflow. */
function endRun(label: u8, length: u32, counts: usize, at: usize, end: usize, overflow: bool): usize {
  const slot = counts + ((<usize>label) << 2);
  store<u32>(slot, load<u32>(slot) + length);
  if (overflow || at + 6 > end) return 0;
  store<u8>(at++, label);
  let rest = length - 1;
  while (rest >= 0x80) {
    store<u8>(at++, <u8>((rest & 0x7f) | 0x80));
    rest >>= 7;
  }
  store<u8>(at++, <u8>rest);
  return at;
}

/**
 * Moves the `count` pixels of `unit` bytes at `px` (one frame, or one plane of a planar frame) to
 * their regions: pixel i goes to the region labels[i] names, at that region's cursor (a u32 byte
 * address in the table at `cursors`, advanced by `unit`). Pixels with an even index go first, then
 * those with an odd index, each in raster order. `back` moves the other way (regions to pixels).
 */
export function moveByLabel(px: usize, labels: usize, count: u32, unit: u32, cursors: usize, back: bool): void {
  if (unit == 2) back ? gather<u16>(px, labels, count, cursors) : scatter<u16>(px, labels, count, cursors);
  else if (unit == 1) back ? gather<u8>(px, labels, count, cursors) : scatter<u8>(px, labels, count, cursors);
  else if (unit == 4) back ? gather<u32>(px, labels, count, cursors) : scatter<u32>(px, labels, count, cursors);
  else if (unit == 8) back ? gather<u64>(px, labels, count, cursors) : scatter<u64>(px, labels, count, cursors);
  else moveBytes(px, labels, count, unit, cursors, back);
}

// scatter and gather mirror each other line for line; one loop with the direction tested per
// pixel ran 30-50% slower (measured on 2048 x 2048 frames). The cursor of the current label is kept
// in a local while the label repeats (long runs in images), and written back when it changes.

function scatter<T>(px: usize, labels: usize, count: u32, cursors: usize): void {
  for (let parity: u32 = 0; parity < 2 && parity < count; parity++) {
    let label = load<u8>(labels + <usize>parity);
    let slot = cursors + ((<usize>label) << 2);
    let at = <usize>load<u32>(slot);
    for (let p = parity; p < count; p += 2) {
      const next = load<u8>(labels + <usize>p);
      if (next != label) {
        store<u32>(slot, <u32>at);
        label = next;
        slot = cursors + ((<usize>label) << 2);
        at = <usize>load<u32>(slot);
      }
      store<T>(at, load<T>(px + ((<usize>p) << alignof<T>())));
      at += sizeof<T>();
    }
    store<u32>(slot, <u32>at);
  }
}

function gather<T>(px: usize, labels: usize, count: u32, cursors: usize): void {
  for (let parity: u32 = 0; parity < 2 && parity < count; parity++) {
    let label = load<u8>(labels + <usize>parity);
    let slot = cursors + ((<usize>label) << 2);
    let at = <usize>load<u32>(slot);
    for (let p = parity; p < count; p += 2) {
      const next = load<u8>(labels + <usize>p);
      if (next != label) {
        store<u32>(slot, <u32>at);
        label = next;
        slot = cursors + ((<usize>label) << 2);
        at = <usize>load<u32>(slot);
      }
      store<T>(px + ((<usize>p) << alignof<T>()), load<T>(at));
      at += sizeof<T>();
    }
    store<u32>(slot, <u32>at);
  }
}

/** {@link moveByLabel} for pixels of any other size (3 or 6-byte interleaved colour pixels). */
function moveBytes(px: usize, labels: usize, count: u32, unit: u32, cursors: usize, back: bool): void {
  for (let parity: u32 = 0; parity < 2; parity++) {
    for (let p = parity; p < count; p += 2) {
      const slot = cursors + ((<usize>load<u8>(labels + <usize>p)) << 2);
      const at = <usize>load<u32>(slot);
      const pixel = px + <usize>p * <usize>unit;
      if (back) memory.copy(pixel, at, <usize>unit);
      else memory.copy(at, pixel, <usize>unit);
      store<u32>(slot, <u32>(at + <usize>unit));
    }
  }
}
