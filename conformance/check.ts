/**
 * What a conformance check is and what it concludes. A check tests one statement of PS3.18 (named
 * by its section) against the server under test, black box, over HTTP; it is required (a failure
 * makes the run fail) or optional (a failure is reported as a deviation, the run still passes).
 * A check concludes with what was expected and what was seen, so that every line of the report
 * can be read without the code.
 */
import type { SuiteContext } from './context.js';

/** The profiles a run selects: DICOMweb itself, or the access control of a gateway in front of it. */
export type Profile = 'dicomweb' | 'security';

/** How a check ended. */
export type Outcome = 'pass' | 'fail' | 'skip';

/** What a check concluded: its outcome, what PS3.18 (or the operator's setup) expects and what the server did. */
export interface Verdict {
  outcome: Outcome;
  expected: string;
  seen: string;
}

/** One check of the suite. */
export interface Check {
  /** Stable identifier, `area-what` (e.g. `stow-good-instance`): the name in every report. */
  id: string;
  /** The part of the standard it tests, e.g. `PS3.18 §10.5.3`. */
  section: string;
  /** One sentence: what a conforming server does. */
  title: string;
  profile: Profile;
  /** A failure of a required check fails the run; one of an optional check is a reported deviation. */
  required: boolean;
  run(context: SuiteContext): Promise<Verdict>;
}

/** A check's result in a run: the check's identity, its verdict and how long it took. */
export interface CheckResult extends Verdict {
  id: string;
  section: string;
  title: string;
  profile: Profile;
  required: boolean;
  durationMs: number;
}

/** Passes when `ok`, fails otherwise, with what was expected and seen. */
export function verdict(ok: boolean, expected: string, seen: string): Verdict {
  return { outcome: ok ? 'pass' : 'fail', expected, seen };
}

/** A check that could not run here (a precondition is missing), with the reason. */
export function skipped(reason: string): Verdict {
  return { outcome: 'skip', expected: reason, seen: 'not run' };
}

/**
 * A failed precondition inside a check: the runner reports the check as failed with this message
 * (e.g. the data it needs could not be stored), rather than as a crash of the suite.
 */
export class CheckFailure extends Error {
  constructor(
    readonly expected: string,
    readonly seen: string,
  ) {
    super(`${expected}; seen ${seen}`);
  }
}

/** The first verdict that is not a pass, else a pass listing every expectation: for checks made of several probes. */
export function allOf(verdicts: Verdict[]): Verdict {
  const failed = verdicts.find((v) => v.outcome !== 'pass');
  if (failed) return failed;
  return { outcome: 'pass', expected: verdicts.map((v) => v.expected).join('; '), seen: verdicts.map((v) => v.seen).join('; ') };
}
