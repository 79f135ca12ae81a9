/**
 * Exports the audit trail as DICOM audit messages (PS3.15 A.5, see `dicom-message.ts`), one per
 * record in seq order, for a SIEM or an audit repository. Reads page by page. Export does not check
 * the chain (`verifyAuditTrail` does); each message carries the record's `seq` and `mac` so that a
 * receiver can tell gaps and correlate with a later verification.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import type { StoredAuditEvent } from './event.js';
import { toDicomAuditMessage, type DicomAuditMessage } from './dicom-message.js';
import { auditRecords } from './records.js';

/** What to export. */
export interface AuditExportOptions {
  /** AuditSourceID: the identity of this gateway. */
  sourceId: string;
  /** Records at or after this time. */
  from?: Date;
  /** Records before this time. */
  to?: Date;
  /** Records read per query; default 1000. */
  pageSize?: number;
}

/** The records of the trail (within `from`..`to`, by their time) as DICOM audit messages, in seq order. */
export async function* exportAuditTrail(db: Kysely<CatalogDatabase>, options: AuditExportOptions): AsyncGenerator<DicomAuditMessage> {
  const range = { from: options.from?.toISOString(), to: options.to?.toISOString(), pageSize: options.pageSize };
  for await (const row of auditRecords(db, range)) {
    yield toDicomAuditMessage({ seq: row.seq, mac: row.mac, keyId: row.key_id, at: row.at, event: parseStoredEvent(row.event) }, options.sourceId);
  }
}

/** The stored event, or an integrity event saying it cannot be read (the chain check will name it). */
function parseStoredEvent(text: string): StoredAuditEvent {
  try {
    const event = JSON.parse(text) as StoredAuditEvent;
    if (event !== null && typeof event === 'object' && typeof event.kind === 'string' && typeof event.actor?.name === 'string' && Array.isArray(event.resources)) return event;
  } catch {
    // fall through
  }
  return { kind: 'integrity', actor: { name: 'aegis' }, action: 'admin', resources: [], outcome: 'failure', reason: 'the stored audit event is not readable (run aegis audit verify)' };
}
