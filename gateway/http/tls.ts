/**
 * Direct HTTPS: the certificate the gateway serves, and its reload. `server.tls` names PEM files
 * (`config-tls.ts` reads and checks them); the HTTPS server is the same HTTP server with the
 * same timeouts and limits (`server.ts`), accepting TLS 1.2 and 1.3 only.
 *
 * On reload (SIGHUP, `cli/tls-hangup.ts`) the files are read and checked again and become the
 * secure context of new connections: connections already open, idle keep-alive ones included,
 * keep the certificate they were opened with and are not dropped. A file that is missing,
 * exposed, or does not match keeps the certificate in use, and the error is logged: a reload never
 * stops the gateway.
 */
import type { Server as HttpsServer } from 'node:https';
import { readTlsFiles, type TlsConfig, type TlsFiles } from '../config-tls.js';
import { guarded, type HookLogger } from './response-hooks.js';

/** A logger with the levels reloads report at. */
export type TlsLogger = HookLogger & {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
};

/** Days before its expiry from which a certificate is reported as expiring. */
const EXPIRY_WARNING_DAYS = 14;

/**
 * Reads the files of `tls` again and serves new connections with them; logs the new
 * certificate's fingerprint, or the error and that the previous certificate stays in use.
 * Never throws. Returns true when the new certificate is in use.
 */
export function reloadCertificate(server: HttpsServer, tls: TlsConfig, logger: TlsLogger): boolean {
  let files: TlsFiles;
  try {
    files = readTlsFiles(tls);
    server.setSecureContext(files.options);
  } catch (error) {
    guarded(logger, 'tls-reload-log', () => logger.error({ err: error, certFile: tls.certFile, keyFile: tls.keyFile }, 'reloading the TLS certificate failed: the previous certificate stays in use'))();
    return false;
  }
  reportCertificate(files, logger, 'the TLS certificate was reloaded: new connections use it');
  return true;
}

/** Logs which certificate is served (fingerprint, subject, expiry), and warns when it is not valid yet, has expired or soon will. */
export function reportCertificate(files: TlsFiles, logger: TlsLogger, message: string): void {
  guarded(logger, 'tls-report', () => {
    const details = { fingerprint: files.fingerprint, subject: files.subject, validTo: files.validTo.toISOString() };
    logger.info(details, message);
    const days = (files.validTo.getTime() - Date.now()) / 86_400_000;
    if (files.validFrom.getTime() > Date.now()) {
      logger.warn({ ...details, validFrom: files.validFrom.toISOString() }, 'the TLS certificate is not valid yet (its notBefore is in the future, or this clock is behind): clients that verify it refuse to connect until then');
    }
    if (days < 0) logger.warn(details, 'the TLS certificate has expired: clients that verify it refuse to connect; replace the files and send SIGHUP');
    else if (days < EXPIRY_WARNING_DAYS) logger.warn({ ...details, daysLeft: Math.floor(days) }, 'the TLS certificate expires soon: replace the files and send SIGHUP');
  })();
}
