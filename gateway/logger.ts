/**
 * Structured JSON logs (pino) on standard output. No PHI at the default level: request logs carry
 * method, path and status, never query strings or bodies; secrets are redacted by path.
 */
import { pino, type Logger } from 'pino';

/** Creates the gateway's root logger. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'aegis', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token', '*.secret'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
