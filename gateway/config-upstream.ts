/**
 * The `upstream` section of the configuration (proxy mode): the DICOMweb root of the PACS Aegis
 * stands in front of, how Aegis authenticates to it, and the limits of the connections to it.
 * Studies that are not in the catalog are read through from it, and searches merge its results
 * with the catalog's. Its credentials never come from the configuration file (nor from the URL):
 * from the environment (`AEGIS_UPSTREAM_USERNAME` and `AEGIS_UPSTREAM_PASSWORD`, or
 * `AEGIS_UPSTREAM_TOKEN`) or from an owner-only file the configuration names. Part of the
 * configuration module (`config.ts`), which validates it at start-up with everything else.
 */
import { z } from 'zod';
import { dicomwebAuthorization } from './config-backends.js';

/** The DICOMweb root of the upstream: http or https, no user name or password in it, no query or fragment. */
const UpstreamUrl = z.url().superRefine((text, ctx) => {
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must be an http or https URL, not ${url.protocol}` });
  if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not hold credentials: set AEGIS_UPSTREAM_USERNAME and AEGIS_UPSTREAM_PASSWORD (or AEGIS_UPSTREAM_TOKEN), or credentialsFile' });
  if (url.search !== '' || url.hash !== '') ctx.addIssue({ code: 'custom', message: 'must be a DICOMweb root without query or fragment' });
});

/** The upstream PACS of proxy mode. */
export const Upstream = z.strictObject({
  /** The DICOMweb root of the PACS, e.g. `http://127.0.0.1:8042/dicom-web`. */
  url: UpstreamUrl,
  /** Orthanc's REST root, e.g. `http://127.0.0.1:8042`: `aegis migrate --delete-upstream` deletes through its API; absent: DICOMweb DELETE. */
  orthancUrl: UpstreamUrl.optional(),
  /** How Aegis authenticates to the PACS: `none`, HTTP `basic` or a `bearer` token (credentials from the environment or `credentialsFile`). */
  auth: z.enum(['none', 'basic', 'bearer']).default('none'),
  /** A JSON file `{ username, password }` or `{ token }` readable by its owner only; otherwise the environment. */
  credentialsFile: z.string().min(1).optional(),
  /** Seconds to open a connection to the PACS (502 beyond). */
  connectTimeoutSeconds: z.number().positive().max(600).default(10),
  /** Seconds the PACS may take to send the status line and headers of an answer (504 beyond). */
  headersTimeoutSeconds: z.number().positive().max(3600).default(30),
  /** Seconds the body of an answer may stay idle, no byte arriving (the response is cut beyond). */
  bodyIdleTimeoutSeconds: z.number().positive().max(3600).default(30),
  /** Connections open to the PACS at most, per gateway process. */
  maxConnections: z.number().int().min(1).max(1024).default(32),
  /** Most results Aegis reads from the PACS for one search (merged with the catalog's, then paged). */
  maxSearchResults: z.number().int().min(1).max(100_000).default(5000),
  /** Also forward a plain copy of every instance stored through Aegis to the PACS (after the protected store succeeded). */
  forwardStow: z.boolean().default(false),
});

/** The configured upstream PACS. */
export type UpstreamConfig = z.infer<typeof Upstream>;

/** The environment variable of an upstream credential `part`: `AEGIS_UPSTREAM_<PART>`. */
export function upstreamCredentialVariable(part: 'USERNAME' | 'PASSWORD' | 'TOKEN'): string {
  return `AEGIS_UPSTREAM_${part}`;
}

/**
 * The `Authorization` header Aegis sends to the upstream (none for `auth: none`), its credentials
 * from exactly one place: `credentialsFile` or the variables {@link upstreamCredentialVariable}
 * names. Never a default: missing, incomplete or doubled credentials are a problem saying so.
 */
export function upstreamAuthorization(upstream: Pick<UpstreamConfig, 'auth' | 'credentialsFile'>, env: NodeJS.ProcessEnv): { authorization?: string } | { problem: string } {
  return dicomwebAuthorization({ name: 'upstream', ...upstream }, env, upstreamCredentialVariable);
}
