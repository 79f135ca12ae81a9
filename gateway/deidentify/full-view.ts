/**
 * Whether a view of the access policy shows a study as stored: nothing de-identified, nothing
 * masked. Every path that could hand out a derived copy (QIDO results, metadata, instances) asks
 * this first and serves the stored data unchanged when it holds.
 */
import type { StudyView } from '../access/policy/policy.js';

/** True when a view shows everything as stored. */
export function isFullView(view: StudyView): boolean {
  return !view.deidentify && view.maskedFields.length === 0;
}
