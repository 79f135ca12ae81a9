/**
 * What tests share (the audit trail's first): master keys held in memory, a catalog in a temporary
 * directory, sample events, and a logger that keeps what it is told.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { AuditEvent } from '../../gateway/access/audit/event.js';
import type { AuditLogger } from '../../gateway/access/audit/trail.js';
import type { MasterKey } from '../../gateway/keys/master-key.js';

/** A random master key with this id, never written anywhere. */
export function memoryKey(id: string): MasterKey {
  return { id, secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false };
}

/** A catalog in a new temporary directory, and how to remove both. */
export async function temporaryCatalog(prefix: string): Promise<{ dir: string; file: string; catalog: Catalog; remove(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'catalog.sqlite');
  const catalog = await Catalog.openSqlite(file);
  return {
    dir,
    file,
    catalog,
    remove: async () => {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A WADO-RS read of study `1.2.3.<n>` by a radiologist, told apart by `n`. */
export function sampleEvent(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 8, 0, 0, n)),
    requestId: `req-${n}`,
    kind: 'request',
    actor: { name: 'alice', role: 'radiologist', method: 'password', clientAddress: '10.0.0.7', attributes: { department: 'radiology' } },
    action: 'read',
    resources: [{ study: `1.2.3.${n}` }],
    outcome: 'success',
    purpose: 'TREAT',
    http: { method: 'GET', path: `/dicom-web/studies/1.2.3.${n}`, status: 200 },
    ...overrides,
  };
}

/** A logger that keeps every message. */
export function recordingLogger(): AuditLogger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { errors, warnings, error: (_details, message) => errors.push(message), warn: (_details, message) => warnings.push(message) };
}

/** Resolves once `condition()` holds; rejects after `timeoutMs` saying what was awaited. */
export async function eventually(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
