/**
 * Quality and speed of the reversible watermark (gateway/protection/watermark/watermark.ts, histogram shifting
 * after Ni et al. 2006), not a test: nothing here asserts a duration. For every native-pixel file
 * of the pydicom corpus and for synthetic CT, MR, CR-size and 8-bit images it embeds the real
 * payload (HMAC-SHA-256 of watermark-payload.ts, 256 bits) in the default raster order and reports:
 * capacity, bits used, passes, samples scanned and changed, PSNR of watermarked vs original over
 * the whole image and over the scanned samples (MAX = 2^BitsStored - 1), whether removal restored
 * the original exactly and the MAC verified, and embed / extract / verify throughput.
 *
 *   npm run bench:watermark        (node --import tsx bench/watermark.ts)
 *
 * Prints a table, writes bench/results/watermark-<timestamp>.json, exits 1 when any round trip is
 * not exact or does not verify.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedWatermark, extractWatermark, watermarkCapacity } from '../gateway/protection/watermark/watermark.js';
import type { WatermarkParameters } from '../gateway/protection/watermark/watermark-parameters.js';
import { sampleCodec, sampleOffset, type PixelGeometry } from '../gateway/dicom/pixel-geometry.js';
import { verifyAndRemoveWatermark, watermarkKey, watermarkPixelData } from '../gateway/protection/watermark/watermark-payload.js';
import { syntheticPixelData, type SyntheticOptions } from '../test/fixtures/synthetic.js';
import { nativePixelCorpus } from '../test/support/native-pixels.js';
import { fmt, table } from './lib/stats.js';

interface Subject {
  name: string;
  source: 'corpus' | 'synthetic';
  geometry: PixelGeometry;
  pixels: Uint8Array;
}

interface Row {
  name: string;
  source: string;
  format: string;
  bytes: number;
  capacityOnePass: number;
  capacityAllPasses: number;
  refused?: string;
  bitsUsed?: number;
  passes?: number;
  samplesScanned?: number;
  samplesChanged?: number;
  psnr?: number;
  psnrScanned?: number;
  restoredExactly?: boolean;
  verified?: boolean;
  /** embedWatermark alone. */
  embedMs?: number;
  /** extractWatermark alone. */
  extractMs?: number;
  /** watermarkPixelData: SHA-256 of the pixels, MAC, embedding. */
  sealMs?: number;
  /** verifyAndRemoveWatermark: extraction, SHA-256 of the restored pixels, MAC check. */
  verifyMs?: number;
}

const KEY = watermarkKey(new Uint8Array(32).fill(0x42));
const CLAIMS = { sopInstanceUid: '2.25.1', gatewayId: 'bench', time: '2026-01-01T00:00:00.000Z' };

function formatOf(g: PixelGeometry): string {
  const frames = g.frames > 1 ? ` x${g.frames}` : '';
  const samples = g.samplesPerPixel > 1 ? `x${g.samplesPerPixel}${g.planarConfiguration ? 'p' : ''}` : '';
  return `${g.columns}x${g.rows}${samples}${frames} ${g.bitsStored}/${g.bitsAllocated}${g.pixelRepresentation ? 's' : 'u'}${g.bigEndian ? ' BE' : ''}`;
}

function geometryFor(o: SyntheticOptions): PixelGeometry {
  const bitsAllocated = o.bitsAllocated ?? 16;
  const bitsStored = o.bitsStored ?? bitsAllocated;
  return {
    rows: o.rows ?? 64,
    columns: o.columns ?? 64,
    samplesPerPixel: o.samplesPerPixel ?? 1,
    bitsAllocated,
    bitsStored,
    highBit: bitsStored - 1,
    pixelRepresentation: o.pixelRepresentation ?? 0,
    planarConfiguration: o.planarConfiguration ?? 0,
    frames: o.numberOfFrames ?? 1,
    bigEndian: false,
    photometricInterpretation: (o.samplesPerPixel ?? 1) === 3 ? 'RGB' : 'MONOCHROME2',
  };
}

/** An MR-like slice: Rayleigh-distributed dark background (sigma 8), two tissues with noise. */
function mrPixels(rows: number, columns: number, seed: number): Uint8Array {
  let state = seed;
  const uniform = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 2 ** 32;
  };
  const out = new Uint8Array(rows * columns * 2);
  const view = new DataView(out.buffer);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const [dx, dy] = [(x - columns / 2) / (columns * 0.38), (y - rows / 2) / (rows * 0.45)];
      const r = dx * dx + dy * dy;
      const tissue = r < 0.55 ? 620 : r < 1 ? 380 : 0;
      const noise = 8 * Math.sqrt(-2 * Math.log(uniform()));
      const value = tissue === 0 ? Math.round(noise) : Math.round(tissue + (uniform() - 0.5) * 60);
      view.setUint16((y * columns + x) * 2, value, true);
    }
  }
  return out;
}

function syntheticSubjects(): Subject[] {
  const make = (name: string, o: SyntheticOptions): Subject => ({ name, source: 'synthetic', geometry: geometryFor(o), pixels: syntheticPixelData(o) });
  return [
    make('CT 512 (12 of 16 bits)', { rows: 512, columns: 512, bitsStored: 12 }),
    make('CT 512 signed (16 bits)', { rows: 512, columns: 512, pixelRepresentation: 1 }),
    { name: 'MR 256 (16 bits)', source: 'synthetic', geometry: geometryFor({ rows: 256, columns: 256 }), pixels: mrPixels(256, 256, 7) },
    make('CR-size 2048 (12 of 16 bits)', { rows: 2048, columns: 2048, bitsStored: 12 }),
    make('CR-size 2048 8-bit', { rows: 2048, columns: 2048, bitsAllocated: 8 }),
    make('8-bit 512', { rows: 512, columns: 512, bitsAllocated: 8 }),
    make('8-bit RGB 512', { rows: 512, columns: 512, bitsAllocated: 8, samplesPerPixel: 3 }),
    make('CT 512 x20 frames', { rows: 512, columns: 512, bitsStored: 12, numberOfFrames: 20 }),
    make('8-bit noise 512 (worst case)', { rows: 512, columns: 512, bitsAllocated: 8, pixels: 'random' }),
    make('16-bit noise 512 (worst case)', { rows: 512, columns: 512, pixels: 'random' }),
  ];
}

function corpusSubjects(): Subject[] {
  return nativePixelCorpus().map(({ name, geometry, pixels }) => ({ name, source: 'corpus', geometry, pixels }));
}

/** Median milliseconds of `body` over at least 5 runs and 100 ms. */
function time(body: () => unknown): number {
  body();
  const runs: number[] = [];
  const start = performance.now();
  while (runs.length < 5 || performance.now() - start < 100) {
    const t = performance.now();
    body();
    runs.push(performance.now() - t);
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor((runs.length - 1) / 2)];
}

/** PSNR (dB) of `marked` against `original` over the given sample offsets; Infinity when equal. */
function psnr(original: Uint8Array, marked: Uint8Array, g: PixelGeometry, offsets: Iterable<number>): number {
  const codec = sampleCodec(g);
  let sum = 0;
  let n = 0;
  for (const offset of offsets) {
    const d = codec.read(marked, offset) - codec.read(original, offset);
    sum += d * d;
    n++;
  }
  const peak = 2 ** g.bitsStored - 1;
  return sum === 0 ? Infinity : 10 * Math.log10((peak * peak) / (sum / n));
}

function* allOffsets(g: PixelGeometry): Generator<number> {
  for (let f = 0; f < g.frames; f++) for (let p = 0; p < g.rows * g.columns; p++) for (let k = 0; k < g.samplesPerPixel; k++) yield sampleOffset(g, f, p, k);
}

function* scannedOffsets(g: PixelGeometry, parameters: WatermarkParameters): Generator<number> {
  let n = 0;
  for (const offset of allOffsets(g)) {
    if (n++ === parameters.samplesScanned) return;
    yield offset;
  }
}

function measure(subject: Subject): Row {
  const { geometry: g, pixels } = subject;
  const capacity = watermarkCapacity(pixels, g);
  const row: Row = {
    name: subject.name,
    source: subject.source,
    format: formatOf(g),
    bytes: pixels.length,
    capacityOnePass: capacity.onePass,
    capacityAllPasses: capacity.allPasses,
  };
  const seal = { key: KEY, ...CLAIMS };
  const { pixels: stored, record } = watermarkPixelData(pixels, g, seal);
  const payload = new Uint8Array(32).fill(0x5a);
  if ('refused' in record) return { ...row, refused: record.refused, embedMs: time(() => embedWatermark(pixels, g, payload)) };
  const { parameters } = record;
  const verification = { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid };
  let restoredExactly = false;
  let verified = false;
  try {
    restoredExactly = Buffer.compare(verifyAndRemoveWatermark(stored, g, record, verification), pixels) === 0;
    verified = true;
  } catch (error) {
    console.error(`${subject.name}: ${String(error)}`);
  }
  return {
    ...row,
    bitsUsed: parameters.payloadBits,
    passes: parameters.passes.length,
    samplesScanned: parameters.samplesScanned,
    samplesChanged: parameters.samplesChanged,
    psnr: psnr(pixels, stored, g, allOffsets(g)),
    psnrScanned: psnr(pixels, stored, g, scannedOffsets(g, parameters)),
    restoredExactly,
    verified,
    embedMs: time(() => embedWatermark(pixels, g, payload)),
    extractMs: time(() => extractWatermark(stored, g, parameters)),
    sealMs: time(() => watermarkPixelData(pixels, g, seal)),
    verifyMs: time(() => verifyAndRemoveWatermark(stored, g, record, verification)),
  };
}

const mbps = (bytes: number, ms: number | undefined) => (ms === undefined ? 'n/a' : fmt(bytes / 1e6 / (ms / 1000), 0));
const db = (v: number | undefined) => (v === undefined ? '' : v === Infinity ? 'inf' : fmt(v, 1));

const rows = [...corpusSubjects(), ...syntheticSubjects()].map(measure);
const header = ['image', 'format', 'capacity 1 / 16 passes', 'bits', 'passes', 'scanned', 'changed', 'PSNR dB', 'PSNR scanned', 'exact', 'embed ms', 'extract ms', 'seal ms', 'verify ms', 'embed MB/s', 'verify MB/s'];
console.log(
  table(
    header,
    rows.map((r) => [
      r.name,
      r.format,
      `${r.capacityOnePass} / ${r.capacityAllPasses}`,
      r.refused === undefined ? String(r.bitsUsed) : 'refused',
      String(r.passes ?? ''),
      String(r.samplesScanned ?? ''),
      String(r.samplesChanged ?? ''),
      db(r.psnr),
      db(r.psnrScanned),
      r.refused === undefined ? (r.restoredExactly && r.verified ? 'yes' : 'NO') : '',
      fmt(r.embedMs ?? NaN, 2),
      fmt(r.extractMs ?? NaN, 2),
      fmt(r.sealMs ?? NaN, 2),
      fmt(r.verifyMs ?? NaN, 2),
      mbps(r.bytes, r.embedMs),
      mbps(r.bytes, r.verifyMs),
    ]),
    3,
  ),
);
for (const r of rows) if (r.refused !== undefined) console.log(`refused: ${r.name}: ${r.refused}`);

const embedded = rows.filter((r) => r.refused === undefined);
const worst = (bits: (n: number) => boolean) => Math.min(...embedded.filter((r) => bits(Number(/ (\d+)\/(\d+)/.exec(r.format)![2]))).map((r) => r.psnr!));
const summary = {
  images: rows.length,
  watermarked: embedded.length,
  refused: rows.length - embedded.length,
  allExact: embedded.every((r) => r.restoredExactly && r.verified),
  lowestPsnr8bit: worst((allocated) => allocated === 8),
  lowestPsnr16bit: worst((allocated) => allocated === 16),
  lowestPsnr32bit: worst((allocated) => allocated === 32),
};
console.log(
  `\n${summary.watermarked} of ${summary.images} images watermarked, ${summary.refused} refused; removal exact and verified for all: ${summary.allExact ? 'yes' : 'NO'}` +
    `\nlowest PSNR: 8-bit ${db(summary.lowestPsnr8bit)} dB, 16-bit ${db(summary.lowestPsnr16bit)} dB, 32-bit ${db(summary.lowestPsnr32bit)} dB`,
);

const dir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(dir, { recursive: true });
const file = `${dir}watermark-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
const json = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (v === Infinity ? 'Infinity' : v), 2);
await writeFile(file, json({ host: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length }, summary, rows }));
console.log(`results: ${relative(process.cwd(), file)}`);
if (!summary.allExact) process.exitCode = 1;
