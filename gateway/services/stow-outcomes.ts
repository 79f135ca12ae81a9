/**
 * The outcomes of STOW-RS (PS3.18 §10.5): what became of each received instance, and the response
 * data set that reports them (PS3.18 Table 10.5.3-2): ReferencedSOPSequence for the stored
 * instances, FailedSOPSequence with a FailureReason (PS3.4 Annex GG / C.4.2.1.4) for the others,
 * and the HTTP status: 200 all stored, 202 some or all stored with warnings (WarningReason in
 * their ReferencedSOPSequence item), 409 none.
 */
import type { DicomJson } from '../dicom/types.js';
import type { GatewayError } from '../errors.js';
import { instanceUrl, studyUrl } from './resources.js';

/** FailureReason values used in FailedSOPSequence. */
export const FailureReason = {
  /** 0x0110 Processing failure. */
  processingFailure: 0x0110,
  /** 0x0111 Duplicate SOP Instance (a different instance with this SOP Instance UID is stored). */
  duplicateSopInstance: 0x0111,
  /** 0x0124 Refused: not authorized (PS3.7 C.4.2.1.4; the access policy refuses this study). */
  notAuthorized: 0x0124,
  /** 0xA700 Refused: out of resources. */
  outOfResources: 0xa700,
  /** 0xA900 Error: data set does not match SOP Class (here: study UID differs from the URL). */
  doesNotMatch: 0xa900,
  /** 0xC000 Error: cannot understand. */
  cannotUnderstand: 0xc000,
} as const;

/** The private creator of the receipt attribute in a ReferencedSOPSequence item, and where it is reserved (0009,0010). */
export const RECEIPT_CREATOR = 'AEGIS RECEIPT';
export const RECEIPT_CREATOR_TAG = '00090010';
/** The signed receipt of a stored instance (UT, a compact JWS), in the block reserved by {@link RECEIPT_CREATOR}. */
export const RECEIPT_TAG = '00091010';

/** WarningReason values (0008,1196) of instances stored with a warning (PS3.4 Annex GG). */
export const WarningReason = {
  /** 0xB007 Data Set does not match SOP Class (here: pixel data that cannot be read as frames, stored as opaque bytes). */
  doesNotMatch: 0xb007,
} as const;

/** The outcome of storing one instance; a stored one may carry a warning (WarningReason and why). */
export type StoreOutcome =
  | {
      ok: true;
      sopClassUid: string;
      sopInstanceUid: string;
      studyUid: string;
      seriesUid: string;
      /** SHA-256 (hex) and length of the bytes stored, once known. */
      sha256?: string;
      length?: number;
      warning?: { warningReason: number; reason: string };
      /** The signed receipt of the store (a compact JWS), sent in the item's private attribute {@link RECEIPT_TAG}. */
      receipt?: string;
    }
  | {
      ok: false;
      sopClassUid?: string;
      sopInstanceUid?: string;
      failureReason: number;
      reason: string;
      /** The backend failure (BACKEND_UNAVAILABLE, BACKEND_TIMEOUT) that stopped the write, if that is why. */
      backendError?: GatewayError;
    };

/** Builds the STOW-RS response data set (PS3.18 Table 10.5.3-2) and its HTTP status. */
export function stowResponse(outcomes: StoreOutcome[], baseUrl: string, study?: string): { status: number; body: DicomJson } {
  const stored = outcomes.filter((o): o is Extract<StoreOutcome, { ok: true }> => o.ok);
  const failed = outcomes.filter((o): o is Extract<StoreOutcome, { ok: false }> => !o.ok);
  const body: DicomJson = {};
  const studies = new Set(stored.map((o) => o.studyUid));
  const retrieveStudy = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (retrieveStudy) body['00081190'] = { vr: 'UR', Value: [studyUrl(baseUrl, retrieveStudy)] };
  if (failed.length > 0) {
    body['00081198'] = {
      vr: 'SQ',
      Value: failed.map((o) => ({
        ...(o.sopClassUid ? { '00081150': { vr: 'UI', Value: [o.sopClassUid] } } : { '00081150': { vr: 'UI' } }),
        ...(o.sopInstanceUid ? { '00081155': { vr: 'UI', Value: [o.sopInstanceUid] } } : { '00081155': { vr: 'UI' } }),
        '00081197': { vr: 'US', Value: [o.failureReason] },
      })),
    };
  }
  if (stored.length > 0) {
    body['00081199'] = {
      vr: 'SQ',
      Value: stored.map((o) => ({
        '00081150': { vr: 'UI', Value: [o.sopClassUid] },
        '00081155': { vr: 'UI', Value: [o.sopInstanceUid] },
        '00081190': { vr: 'UR', Value: [instanceUrl(baseUrl, o.studyUid, o.seriesUid, o.sopInstanceUid)] },
        ...(o.warning ? { '00081196': { vr: 'US', Value: [o.warning.warningReason] } } : {}),
        ...(o.receipt ? { [RECEIPT_CREATOR_TAG]: { vr: 'LO', Value: [RECEIPT_CREATOR] }, [RECEIPT_TAG]: { vr: 'UT', Value: [o.receipt] } } : {}),
      })),
    };
  }
  const status = stored.length === 0 ? 409 : failed.length > 0 || stored.some((o) => o.warning) ? 202 : 200;
  return { status, body };
}
