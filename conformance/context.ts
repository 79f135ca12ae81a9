/**
 * What every check of a run shares: the client of the server under test, the operator's options,
 * and the data the suite stored for this run (fresh UIDs; the only data any check reads, matches
 * or deletes). The data is stored once by {@link storeFixture}; a check that needs it and finds
 * it missing fails with the reason, it does not crash the run.
 */
import { CheckFailure } from './check.js';
import type { DicomWebClient, Reply } from './client.js';
import { buildInstance, newUid, type InstanceSpec } from './instances.js';
import { stowBody } from './multipart.js';

/** One instance the suite stored: its UIDs, its bytes, and its number of frames. */
export interface StoredInstance {
  study: string;
  series: string;
  sop: string;
  bytes: Uint8Array;
  frames: number;
}

/** A study the suite stored, with what the STOW-RS request answered. */
export interface FixtureStudy {
  uid: string;
  /** YYYYMMDD, distinct per study, for range matching. */
  date: string;
  patientName: string;
  accessionNumber: string;
  instances: StoredInstance[];
  /** The STOW-RS response (undefined when the request did not complete). */
  stow?: Reply;
  /** Set once a check deleted it. */
  deleted?: boolean;
  /** Why the study could not be stored, when it could not. */
  error?: string;
}

/** The suite's data: three studies. `main` has two series (two single-frame instances, one of three frames). */
export interface Fixture {
  main: FixtureStudy;
  second: FixtureStudy;
  /** The study the DELETE check removes. */
  doomed: FixtureStudy;
}

/** Options of a run that checks read. */
export interface SuiteOptions {
  /** Origin for the CORS checks; without it they are skipped. */
  origin?: string;
  /** Headers of a user who must not see the suite's study (security profile). */
  deniedHeaders?: Record<string, string>;
  /** A shell command that tampers with the stored data of the instance in its environment (security profile). */
  tamperCommand?: string;
  /** Deadline of each request, ms. */
  timeoutMs: number;
}

/** What the checks of a run share. */
export interface SuiteContext {
  client: DicomWebClient;
  options: SuiteOptions;
  /** Short random token of this run, in patient names and accession numbers. */
  run: string;
  fixture: Fixture;
  /** Studies a check created besides the fixture (or that a wrong answer may have created): removed at the end. */
  created: string[];
  /** What the suite could not remove at the end (reported). */
  leftovers: string[];
}

/** The instances of the main study's single-frame series, its multi-frame instance, and the other studies. */
export function planFixture(run: string): Fixture {
  const study = (name: string, date: string, series: Array<{ frames: number[] }>): FixtureStudy => {
    const uid = newUid();
    const patientName = `CONFORMANCE^${name}`;
    const accessionNumber = `C${run}${name.slice(0, 1)}`;
    const instances = series.flatMap(({ frames }, s) => {
      const seriesUid = newUid();
      return frames.map((count, i) => {
        const spec: InstanceSpec = {
          study: uid,
          series: seriesUid,
          sop: newUid(),
          patientName,
          patientId: `CONF-${run}`,
          studyDate: date,
          accessionNumber,
          seriesNumber: s + 1,
          instanceNumber: i + 1,
          seriesDescription: `Conformance series ${s + 1}`,
          frames: count,
        };
        return { study: uid, series: seriesUid, sop: spec.sop, bytes: buildInstance(spec), frames: count };
      });
    });
    return { uid, date, patientName, accessionNumber, instances };
  };
  return {
    main: study('ALPHA', '19990307', [{ frames: [1, 1] }, { frames: [3] }]),
    second: study('BETA', '20010203', [{ frames: [1] }]),
    doomed: study('GAMMA', '20050607', [{ frames: [1] }]),
  };
}

/** Stores each study of the fixture with one STOW-RS request to `/studies`; records each answer. */
export async function storeFixture(context: SuiteContext): Promise<void> {
  for (const study of [context.fixture.main, context.fixture.second, context.fixture.doomed]) {
    const { body, contentType } = stowBody(study.instances.map((i) => i.bytes));
    try {
      study.stow = await context.client.request('POST', '/studies', { body, headers: { 'Content-Type': contentType }, accept: 'application/dicom+json' });
      if (study.stow.status !== 200) study.error = `STOW-RS of the study answered ${study.stow.status}`;
    } catch (error) {
      const cause = (error as Error).cause instanceof Error ? ` (${((error as Error).cause as Error).message})` : '';
      study.error = `STOW-RS of the study failed: ${(error as Error).message}${cause}`;
    }
  }
}

/** `study` when it was stored whole; otherwise the check fails with the reason. */
export function stored(study: FixtureStudy): FixtureStudy {
  if (study.error !== undefined) throw new CheckFailure('the suite can store its own data with STOW-RS', study.error);
  return study;
}

/** The UIDs of the suite's stored studies, comma-separated: every QIDO check filters on them. */
export function ownStudies(fixture: Fixture): string {
  return [fixture.main, fixture.second, fixture.doomed].map((s) => s.uid).join(',');
}

/** The path of an instance, series or study below the DICOMweb root. */
export function pathOf(instance: Pick<StoredInstance, 'study' | 'series' | 'sop'>, level: 'study' | 'series' | 'instance'): string {
  if (level === 'study') return `/studies/${instance.study}`;
  if (level === 'series') return `/studies/${instance.study}/series/${instance.series}`;
  return `/studies/${instance.study}/series/${instance.series}/instances/${instance.sop}`;
}
