/**
 * DICOM Unique Identifiers (PS3.5 §9.1): components of digits without leading zeros, separated by
 * dots, at most 64 characters.
 */
import { GatewayError } from '../errors.js';

const UID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$/;

/** Whether `uid` is a syntactically valid DICOM UID. */
export function isUid(uid: string): boolean {
  return uid.length <= 64 && UID.test(uid);
}

/** Throws INVALID_UID unless `uid` is a syntactically valid DICOM UID; `what` names it in the message. */
export function assertUid(uid: string, what: string): void {
  if (!isUid(uid)) throw new GatewayError('INVALID_UID', `${what} '${truncate(uid)}' is not a valid DICOM UID`);
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
