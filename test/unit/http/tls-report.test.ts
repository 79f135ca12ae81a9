/**
 * What the gateway logs about the certificate it serves (`gateway/http/tls.ts`), at start-up and
 * on every reload: its identity, and a warning when clients that verify it would refuse it (expired,
 * not valid yet) or soon will.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TlsFiles } from '../../../gateway/config-tls.js';
import { reportCertificate } from '../../../gateway/http/tls.js';

const DAY = 86_400_000;

/** The warnings `reportCertificate` logs for a certificate valid from `from` to `to` (ms from now). */
function warningsFor(from: number, to: number): string[] {
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (_details: Record<string, unknown>, message: string) => void warnings.push(message), error: () => undefined };
  const files = { options: {}, fingerprint: 'AB:CD', subject: 'CN=gw', validFrom: new Date(Date.now() + from), validTo: new Date(Date.now() + to) } as unknown as TlsFiles;
  reportCertificate(files, logger, 'serving HTTPS');
  return warnings;
}

describe('the report of the certificate served', () => {
  it('warns about a certificate that has expired, expires within 14 days, or is not valid yet, and not about one in force', () => {
    assert.deepEqual(warningsFor(-30 * DAY, 60 * DAY), []);
    assert.deepEqual(warningsFor(-30 * DAY, -DAY), ['the TLS certificate has expired: clients that verify it refuse to connect; replace the files and send SIGHUP']);
    assert.deepEqual(warningsFor(-30 * DAY, 3 * DAY), ['the TLS certificate expires soon: replace the files and send SIGHUP']);
    assert.deepEqual(warningsFor(2 * DAY, 60 * DAY), ['the TLS certificate is not valid yet (its notBefore is in the future, or this clock is behind): clients that verify it refuse to connect until then']);
  });
});
