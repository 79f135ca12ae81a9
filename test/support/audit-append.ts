/**
 * A separate process appending to the audit trail of a catalog, for the concurrency test:
 * `node --import tsx test/support/audit-append.ts CATALOG DATA_DIR COUNT LABEL GO_FILE`. Opens the
 * catalog and the keyring of DATA_DIR, prints `ready`, waits until GO_FILE exists (so that all
 * appenders start together), records COUNT events in small bursts (every tenth with recordNow),
 * closes, and prints one JSON line: { label, pending, dropped, errors }.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { AuditTrail } from '../../gateway/access/audit/trail.js';
import { Keyring } from '../../gateway/keys/keyring.js';
import { recordingLogger, sampleEvent } from './audit.js';

const [file, dataDir, countText, label, goFile] = process.argv.slice(2);
const catalog = await Catalog.openSqlite(file);
const keyring = await Keyring.load({ dataDir, env: {} });
const logger = recordingLogger();
const trail = new AuditTrail(catalog.db, keyring, logger, { flushIntervalMs: 5, flushBatchSize: 20 });
const count = Number(countText);
process.stdout.write('ready\n');
while (!existsSync(goFile)) await sleep(5);
for (let i = 1; i <= count; i++) {
  const event = sampleEvent(i, { requestId: `${label}-${i}` });
  if (i % 10 === 0) await trail.recordNow(event);
  else trail.record(event);
  if (i % 7 === 0) await sleep(1);
}
await trail.close();
await catalog.close();
process.stdout.write(`${JSON.stringify({ label, pending: trail.pending, dropped: trail.dropped, errors: logger.errors })}\n`);
