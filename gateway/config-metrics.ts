/**
 * The `metrics` section of the configuration: whether the gateway answers `GET /metrics`
 * (Prometheus text format, `docs/metrics.md`), and the bearer token a Prometheus server scrapes
 * it with, so that it need not hold an admin's password. The token never comes from the
 * configuration file: from the environment (`AEGIS_METRICS_TOKEN`) or from an owner-only file
 * the configuration names (`metrics.tokenFile`), never both. Without a token only admins scrape.
 * Part of the configuration module (`config.ts`), which validates it at start-up with everything
 * else; the token itself is read when the gateway starts and never kept in the configuration.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/** The environment variable that holds the metrics bearer token. */
export const METRICS_TOKEN_VARIABLE = 'AEGIS_METRICS_TOKEN';

/** Shortest token taken: 128 bits as hex, a guessable token is refused rather than accepted. */
export const MIN_METRICS_TOKEN_LENGTH = 32;

/** The metrics endpoint's settings. */
export const Metrics = z
  .strictObject({
    /** Answer `GET /metrics`; false: the path is unknown like any other (the gateway still counts). */
    enabled: z.boolean().default(true),
    /** A file holding the scrape token (one line, readable by its owner only); otherwise `AEGIS_METRICS_TOKEN`, or admins only. */
    tokenFile: z.string().min(1).optional(),
  })
  .prefault({});

/** The configured metrics endpoint. */
export type MetricsConfig = z.infer<typeof Metrics>;

/**
 * The scrape token, from exactly one place: `tokenFile` or {@link METRICS_TOKEN_VARIABLE}; none
 * when neither is set (admins only). A problem, never a default, when both are set, when the file
 * is unreadable or readable by others, or when the token is shorter than
 * {@link MIN_METRICS_TOKEN_LENGTH} or holds anything but printable ASCII.
 */
export function metricsToken(metrics: Pick<MetricsConfig, 'tokenFile'>, env: NodeJS.ProcessEnv): { token?: string } | { problem: string } {
  const fromEnv = env[METRICS_TOKEN_VARIABLE];
  let token: string;
  if (metrics.tokenFile !== undefined) {
    if (fromEnv !== undefined && fromEnv !== '') return { problem: `the scrape token comes from tokenFile or from ${METRICS_TOKEN_VARIABLE}, not both` };
    const file = resolve(metrics.tokenFile);
    try {
      if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) return { problem: `tokenFile ${file} is readable by others than its owner (chmod 600 it)` };
      token = readFileSync(file, 'utf8').trim();
    } catch (error) {
      return { problem: `cannot read tokenFile ${file}: ${(error as Error).message}` };
    }
  } else if (fromEnv !== undefined && fromEnv !== '') {
    token = fromEnv.trim();
  } else {
    return {};
  }
  if (token.length < MIN_METRICS_TOKEN_LENGTH) return { problem: `the scrape token must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)` };
  if (!/^[\x21-\x7e]+$/.test(token)) return { problem: 'the scrape token must be printable ASCII without spaces' };
  return { token };
}
