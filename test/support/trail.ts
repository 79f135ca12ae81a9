/**
 * Reads the audit trail of a gateway's data directory with the gateway's own reading code (while
 * the gateway may still be running): the stored events in seq order, and whether the chain verifies.
 */
import { join } from 'node:path';
import type { StoredAuditEvent } from '../../gateway/access/audit/event.js';
import { verifyAuditTrail, type AuditVerification } from '../../gateway/access/audit/verify.js';
import { auditRecords } from '../../gateway/access/audit/records.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { Keyring } from '../../gateway/keys/keyring.js';

/** A stored event with its seq. */
export type TrailEvent = StoredAuditEvent & { seq: number };

/** The events of the trail in `dataDir` and the verification of its chain. */
export async function readTrail(dataDir: string): Promise<{ events: TrailEvent[]; verification: AuditVerification }> {
  const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
  try {
    const events: TrailEvent[] = [];
    for await (const row of auditRecords(catalog.db)) events.push({ ...(JSON.parse(row.event) as StoredAuditEvent), seq: row.seq });
    const verification = await verifyAuditTrail(catalog.db, await Keyring.load({ dataDir, env: {} }));
    return { events, verification };
  } finally {
    await catalog.close();
  }
}
