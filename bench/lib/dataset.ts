/**
 * The benchmark data sets, generated in memory by the project's synthetic generator with fixed
 * seeds and UIDs derived from fixed labels, so every run sends the same bytes.
 *
 * - `ct512`: 2 patients x 1 study x 3 series x 50 instances of 512x512 16-bit CT (300 instances).
 * - `ct2048`: 1 study, 1 series, 24 instances of 2048x2048 16-bit CT (8 MB each).
 * - `multiframe`: 1 instance of 512x512 16-bit CT with 200 frames (about 100 MB).
 * `BENCH_SCALE` scales the instance counts (and the frame count of `multiframe`).
 */
import { createHash } from 'node:crypto';
import { syntheticInstance, type SyntheticOptions } from '../../test/fixtures/synthetic.js';

/** Names of the data sets, in run order. */
export const SET_NAMES = ['ct512', 'ct2048', 'multiframe'] as const;
export type SetName = (typeof SET_NAMES)[number];

/** One generated instance and where its pixel data is. */
export interface BenchInstance {
  study: string;
  series: string;
  sop: string;
  patientID: string;
  bytes: Buffer;
  frames: number;
  /** Bytes per frame of native pixel data. */
  frameBytes: number;
  /** Offset of the first pixel data byte in `bytes`. */
  pixelOffset: number;
}

/** A study of a set, for QIDO checks. */
export interface BenchStudy {
  study: string;
  patientID: string;
  series: Array<{ series: string; instances: number }>;
}

export interface BenchSet {
  name: SetName;
  instances: BenchInstance[];
  studies: BenchStudy[];
  totalBytes: number;
}

/** A deterministic 2.25 UID derived from a label. */
export function labelUid(label: string): string {
  const digest = createHash('sha256').update(`aegis-bench/${label}`).digest();
  return `2.25.${BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString(10)}`;
}

function instance(o: SyntheticOptions & { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; patientID: string }): BenchInstance {
  const bytes = syntheticInstance(o);
  const frames = o.numberOfFrames ?? 1;
  const frameBytes = (o.rows ?? 64) * (o.columns ?? 64) * 2 * (o.samplesPerPixel ?? 1);
  return {
    study: o.studyInstanceUID,
    series: o.seriesInstanceUID,
    sop: o.sopInstanceUID,
    patientID: o.patientID,
    bytes,
    frames,
    frameBytes,
    pixelOffset: bytes.length - frameBytes * frames,
  };
}

function build(name: SetName, plan: { patients: number; seriesPerStudy: number; perSeries: number; rows: number; columns: number; frames: number }): BenchSet {
  const instances: BenchInstance[] = [];
  const studies: BenchStudy[] = [];
  let seed = 1;
  for (let p = 0; p < plan.patients; p++) {
    const patientID = `BENCH-${name}-${p + 1}`;
    const study = labelUid(`${name}/study/${p}`);
    const entry: BenchStudy = { study, patientID, series: [] };
    for (let s = 0; s < plan.seriesPerStudy; s++) {
      const series = labelUid(`${name}/series/${p}/${s}`);
      entry.series.push({ series, instances: plan.perSeries });
      for (let i = 0; i < plan.perSeries; i++) {
        instances.push(
          instance({
            studyInstanceUID: study,
            seriesInstanceUID: series,
            sopInstanceUID: labelUid(`${name}/instance/${p}/${s}/${i}`),
            patientID,
            patientName: `Bench^${name}^${p + 1}`,
            accessionNumber: `BA${p + 1}`,
            studyDescription: `Benchmark ${name}`,
            seriesNumber: s + 1,
            seriesDescription: `Benchmark series ${s + 1}`,
            instanceNumber: i + 1,
            rows: plan.rows,
            columns: plan.columns,
            numberOfFrames: plan.frames,
            seed: seed++,
          }),
        );
      }
    }
    studies.push(entry);
  }
  return { name, instances, studies, totalBytes: instances.reduce((n, i) => n + i.bytes.length, 0) };
}

/** Generates one set at `scale` (1 = the full sizes above). */
export function generateSet(name: SetName, scale: number): BenchSet {
  const n = (full: number, min = 1): number => Math.max(min, Math.round(full * scale));
  switch (name) {
    case 'ct512':
      return build(name, { patients: 2, seriesPerStudy: 3, perSeries: n(50), rows: 512, columns: 512, frames: 1 });
    case 'ct2048':
      return build(name, { patients: 1, seriesPerStudy: 1, perSeries: n(24), rows: 2048, columns: 2048, frames: 1 });
    case 'multiframe':
      return build(name, { patients: 1, seriesPerStudy: 1, perSeries: 1, rows: 512, columns: 512, frames: n(200, 2) });
  }
}

/** A few small instances in a study of their own, stored and read before measuring (JIT, caches). */
export function warmupInstances(): BenchInstance[] {
  const study = labelUid('warmup/study');
  const series = labelUid('warmup/series');
  return Array.from({ length: 4 }, (_, i) =>
    instance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: labelUid(`warmup/instance/${i}`), patientID: 'BENCH-WARMUP', rows: 512, columns: 512, instanceNumber: i + 1, seed: 1000 + i }),
  );
}

/** InstitutionName (0008,0080) of the access benchmark's study: the radiologist's `institution`. */
export const ACCESS_INSTITUTION = 'Aegis Bench Hospital';

/** The data of the access benchmark: one study of one series. */
export interface AccessSet {
  study: string;
  series: string;
  instances: BenchInstance[];
  totalBytes: number;
}

/**
 * The access benchmark's data (`bench/access.ts`): one study, one series, `count` instances of
 * 256x256 16-bit CT whose InstitutionName is {@link ACCESS_INSTITUTION}, so that the default
 * policy's `clinicians-own-institution` rule lets a radiologist of that institution search and read it.
 */
export function accessSet(count: number): AccessSet {
  const patientID = 'BENCH-ACCESS-1';
  const study = labelUid('access/study');
  const series = labelUid('access/series');
  const instances = Array.from({ length: count }, (_, i) =>
    instance({
      studyInstanceUID: study,
      seriesInstanceUID: series,
      sopInstanceUID: labelUid(`access/instance/${i}`),
      patientID,
      patientName: 'Bench^Access',
      institutionName: ACCESS_INSTITUTION,
      studyDescription: 'Benchmark access',
      seriesNumber: 1,
      instanceNumber: i + 1,
      rows: 256,
      columns: 256,
      seed: 2000 + i,
    }),
  );
  return { study, series, instances, totalBytes: instances.reduce((n, i) => n + i.bytes.length, 0) };
}
