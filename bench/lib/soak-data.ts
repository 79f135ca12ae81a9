/**
 * The soak's data, generated up front by the project's synthetic generator (CT-like, 16-bit,
 * Explicit VR Little Endian, native pixels, fixed seeds):
 *
 * - the resident studies, stored once before the soak and only read: institution A (3 studies of
 *   2 series x 8 instances, 512x512) and institution B (2 studies of 1 series x 8 instances);
 * - the churn templates: studies of 1 series x 4 instances of 256x256 in institution A (and one in
 *   institution B, which A's modality may not store into). Every churn STOW sends a new
 *   generation of a template: the same bytes with new Study, Series and SOP Instance UIDs of the
 *   same length, patched in place ({@link churnStudy}), so the catalog sees new rows every time.
 */
import { createHash } from 'node:crypto';
import { syntheticInstance } from '../../test/fixtures/synthetic.js';
import type { BenchInstance } from './dataset.js';

/** InstitutionName of the studies the A users may see and store into. */
export const INSTITUTION_A = 'Soak General Hospital';
/** InstitutionName of the other institution's studies. */
export const INSTITUTION_B = 'Soak Clinic';

/** A study of the soak and its instances. */
export interface SoakStudy {
  study: string;
  patientID: string;
  institution: string;
  series: string[];
  instances: BenchInstance[];
}

/** Everything the soak sends and checks. */
export interface SoakData {
  residentA: SoakStudy[];
  residentB: SoakStudy[];
  /** Churn templates of institution A (generation 0). */
  churn: SoakStudy[];
  /** A churn template of institution B: what A's modality must not store. */
  churnForeign: SoakStudy;
}

/**
 * A 2.25 UID of fixed length (44 characters): `2.25.1`, a kind digit, an 8-digit generation and 29
 * digits derived from `label`, so that another generation has the same length ({@link churnStudy}).
 */
function fixedUid(kind: 1 | 2 | 3, generation: number, label: string): string {
  const digest = BigInt(`0x${createHash('sha256').update(`aegis-soak/${label}`).digest('hex')}`);
  const tail = (digest % 10n ** 29n).toString(10).padStart(29, '0');
  return `2.25.1${kind}${String(generation).padStart(8, '0')}${tail}`;
}

/** The same UID in another generation (characters 7 to 14). */
function regenerate(uid: string, generation: number): string {
  return `${uid.slice(0, 7)}${String(generation).padStart(8, '0')}${uid.slice(15)}`;
}

interface StudyPlan {
  label: string;
  institution: string;
  patientID: string;
  patientName: string;
  studyDate: string;
  series: number;
  perSeries: number;
  size: number;
  seed: number;
}

function study(plan: StudyPlan): SoakStudy {
  const studyUid = fixedUid(1, 0, `${plan.label}/study`);
  const series: string[] = [];
  const instances: BenchInstance[] = [];
  for (let s = 0; s < plan.series; s++) {
    const seriesUid = fixedUid(2, 0, `${plan.label}/series/${s}`);
    series.push(seriesUid);
    for (let i = 0; i < plan.perSeries; i++) {
      const sop = fixedUid(3, 0, `${plan.label}/instance/${s}/${i}`);
      const bytes = syntheticInstance({
        studyInstanceUID: studyUid,
        seriesInstanceUID: seriesUid,
        sopInstanceUID: sop,
        patientID: plan.patientID,
        patientName: plan.patientName,
        institutionName: plan.institution,
        studyDate: plan.studyDate,
        studyDescription: `Soak ${plan.label}`,
        seriesNumber: s + 1,
        seriesDescription: `Soak series ${s + 1}`,
        instanceNumber: i + 1,
        rows: plan.size,
        columns: plan.size,
        seed: plan.seed + s * 100 + i,
      });
      const frameBytes = plan.size * plan.size * 2;
      instances.push({ study: studyUid, series: seriesUid, sop, patientID: plan.patientID, bytes, frames: 1, frameBytes, pixelOffset: bytes.length - frameBytes });
    }
  }
  return { study: studyUid, patientID: plan.patientID, institution: plan.institution, series, instances };
}

/** Generates the soak's data (about 35 MB; a second or two). */
export function soakData(): SoakData {
  const resident = (inst: 'A' | 'B', n: number, series: number): SoakStudy[] =>
    Array.from({ length: n }, (_, k) =>
      study({
        label: `resident/${inst}/${k}`,
        institution: inst === 'A' ? INSTITUTION_A : INSTITUTION_B,
        patientID: `SOAK-${inst}-${k + 1}`,
        patientName: `Soak^${inst}${k + 1}`,
        studyDate: `2024010${k + 1}`,
        series,
        perSeries: 8,
        size: 512,
        seed: 10_000 * (inst === 'A' ? 1 : 2) + 1000 * k,
      }),
    );
  const churnPlan = (k: number, institution: string): StudyPlan => ({
    label: `churn/${institution}/${k}`,
    institution,
    patientID: `SOAK-CHURN-${k + 1}`,
    patientName: `Churn^${k + 1}`,
    studyDate: '20250101',
    series: 1,
    perSeries: 4,
    size: 256,
    seed: 50_000 + 100 * k,
  });
  return {
    residentA: resident('A', 3, 2),
    residentB: resident('B', 2, 1),
    churn: Array.from({ length: 8 }, (_, k) => study(churnPlan(k, INSTITUTION_A))),
    churnForeign: study(churnPlan(99, INSTITUTION_B)),
  };
}

/** Replaces every occurrence of `from` by `to` (same length) in `bytes`, in place. */
function patch(bytes: Buffer, from: string, to: string): void {
  const needle = Buffer.from(from, 'latin1');
  const replacement = Buffer.from(to, 'latin1');
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + needle.length)) replacement.copy(bytes, at);
}

/** Generation `generation` of a template: a copy with new, same-length UIDs (generation 0: the template). */
export function churnStudy(template: SoakStudy, generation: number): SoakStudy {
  const uids = new Map<string, string>([[template.study, regenerate(template.study, generation)]]);
  for (const s of template.series) uids.set(s, regenerate(s, generation));
  for (const i of template.instances) uids.set(i.sop, regenerate(i.sop, generation));
  const instances = template.instances.map((i) => {
    const bytes = Buffer.from(i.bytes);
    for (const [from, to] of uids) patch(bytes, from, to);
    return { ...i, study: uids.get(i.study)!, series: uids.get(i.series)!, sop: uids.get(i.sop)!, bytes };
  });
  return { ...template, study: uids.get(template.study)!, series: template.series.map((s) => uids.get(s)!), instances };
}
