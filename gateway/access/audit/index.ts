/**
 * The tamper-evident audit trail (DESIGN.md "Access"): events, the keyed hash chain, the buffered
 * writer, verification and export as DICOM audit messages (PS3.15 A.5). See docs/audit.md.
 */
export type { AuditActor, AuditEvent, AuditEventKind, AuditHttp, AuditOperation, AuditOutcome, AuditResource, HttpVerb, StoredAuditEvent } from './event.js';
export { normalizeAuditEvent, MAX_RESOURCES } from './event.js';
export { AuditTrail, type AuditLogger, type AuditTrailOptions } from './trail.js';
export { appendAuditRecords, type NewAuditRecord } from './append.js';
export { verifyAuditTrail, type AuditBreak, type AuditVerification } from './verify.js';
export { exportAuditTrail, type AuditExportOptions } from './export.js';
export { toDicomAuditMessage, EVENT_ID, EVENT_TYPE, ROLE_ID, OBJECT_ID_TYPE, STUDY_ROOT_FIND, type CodedValue, type DicomAuditMessage } from './dicom-message.js';
export { GENESIS_MAC, chainKey, recordMac, headSignature } from './chain.js';
export { canonicalJson } from '../../canonical-json.js';
