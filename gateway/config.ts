/**
 * Gateway configuration: one YAML or JSON file (documented in `config/README.md`), overridden by
 * environment variables and CLI flags, validated once at start-up with every problem reported,
 * then frozen. Secrets never come from this file: the credentials of an S3 backend come from the
 * environment or from a file the configuration names ({@link s3Credentials}), and are checked at
 * start-up with everything else, but never kept in the configuration object.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseNetworkRange } from './network.js';
import { Backend, dicomwebAuthorization, s3Credentials } from './config-backends.js';
import { NAME, OidcProvider } from './config-oidc.js';
import { Placement, placementProblems } from './config-placement.js';
import { Upstream, upstreamAuthorization } from './config-upstream.js';
import { Limits } from './config-limits.js';
import { Tls } from './config-tls.js';
import { Metrics, metricsToken } from './config-metrics.js';

export { targetOf, type PlacementConfig } from './config-placement.js';
export { upstreamAuthorization, upstreamCredentialVariable, type UpstreamConfig } from './config-upstream.js';
export { dicomwebAuthorization, dicomwebCredentialVariable, s3CredentialVariable, s3Credentials, type BackendConfig, type DicomwebBackendConfig, type S3BackendConfig, type S3Credentials } from './config-backends.js';

const ConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Absolute base URL clients reach the gateway at (behind a proxy); BulkDataURI and RetrieveURL use it. */
      publicUrl: z.url().optional(),
      /**
       * Reverse proxies (addresses or CIDR ranges) whose Forwarded / X-Forwarded-* headers are
       * believed: the client address, and without publicUrl the scheme, host and prefix of URLs. None by default.
       */
      trustedProxies: z.array(z.string().superRefine(validNetworkRange)).default([]),
      /** Processes serving HTTP (Node cluster); default one per core, at most 4. 1: no primary process. */
      workers: z
        .number()
        .int()
        .min(1)
        .max(64)
        .default(() => Math.min(availableParallelism(), 4)),
      /** Seconds to finish in-flight requests on SIGTERM. */
      shutdownGraceSeconds: z.number().positive().default(10),
      /** Seconds a client has to send the request line and headers (408 and the connection closed beyond). */
      headersTimeoutSeconds: z.number().positive().max(3600).default(30),
      /** Seconds a client has to send a whole request, body included (408 beyond); at least headersTimeoutSeconds. */
      requestTimeoutSeconds: z
        .number()
        .positive()
        .max(7 * 24 * 3600)
        .default(3600),
      /** Seconds a connection may see no traffic at all, either way, before it is closed. */
      idleTimeoutSeconds: z
        .number()
        .positive()
        .max(24 * 3600)
        .default(120),
      /** Seconds an idle keep-alive connection is kept open for the next request. */
      keepAliveTimeoutSeconds: z.number().positive().max(3600).default(65),
      tls: Tls, // direct HTTPS: certificate and key files, reloaded on SIGHUP (config-tls.ts)
    })
    .prefault({}),
  /** Data directory (catalog, stores, keys); default `./data`. */
  dataDir: z.string().min(1).default('./data'),
  catalog: z.strictObject({ kind: z.literal('sqlite') }).prefault({ kind: 'sqlite' }),
  backends: z
    .array(Backend)
    .min(1)
    .prefault(() => [{ name: 'local', kind: 'fs' as const }]),
  placement: Placement,
  protection: z
    .strictObject({
      /**
       * hardened: every fragment encrypted (AES-256-GCM, envelope keys); paper: the paper's plain
       * regions, WEAKER, for experiments; none: whole instances as received, no split, no
       * encryption (trusted storage and benchmarks of the unprotected path only).
       */
      mode: z.enum(['hardened', 'paper', 'none']).default('hardened'),
      /** Number of pixel regions R (at least 2); default: the number of region backends, at least 2. */
      regions: z.number().int().min(2).max(16).optional(),
      /** Names this gateway in manifests and watermarks; default aegis@<host name>. */
      gatewayId: z.string().min(1).max(128).optional(),
      /** Memory per process for instances already reassembled and verified (frames of one instance come in many requests); 0: none. */
      verifiedCacheMiB: z.number().int().min(0).max(65536).default(64),
    })
    .prefault({}),
  limits: Limits,
  scrub: z
    .strictObject({
      /** Check every stored fragment and shard this often inside the gateway (audited); 0: never (run `aegis scrub`). */
      intervalHours: z.number().min(0).max(8760).default(0), // at most a year
      /** Largest average read rate of a scheduled scrub, bytes per second. */
      bytesPerSecond: z.number().positive().default(10_000_000),
    })
    .prefault({}),
  stow: z
    .strictObject({
      /** A different instance with a SOP Instance UID already stored: reject it, or replace the stored one. */
      onConflict: z.enum(['reject', 'replace']).default('reject'),
    })
    .prefault({}),
  cors: z
    .strictObject({
      /** Allowed origins (exact match); `*` allows any. Empty: no CORS headers. */
      origins: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * Opens the DICOMweb routes to requests without credentials: they act as this subject (still
       * under the policy). Absent (the default): every DICOMweb request must authenticate.
       */
      anonymous: z
        .strictObject({
          role: z.string().regex(NAME),
          attributes: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
      /** On first start with no users, create `admin` with a random password (printed once, kept in DATA/admin-password). */
      bootstrapAdmin: z.boolean().default(true),
      /** Lifetime of access tokens from `POST /auth/token`. */
      accessTokenMinutes: z
        .number()
        .positive()
        .max(24 * 60)
        .default(15),
      /** Lifetime of refresh tokens (each is single-use and rotated). */
      refreshTokenHours: z
        .number()
        .positive()
        .max(24 * 90)
        .default(12),
      /** Absolute lifetime of a sign-in's refresh tokens: rotation never goes past the sign-in plus this. */
      refreshTokenAbsoluteHours: z
        .number()
        .positive()
        .max(24 * 365)
        .default(24),
      /** How long a verified credential (password, API key, token subject) is trusted without checking again. */
      credentialCacheSeconds: z.number().min(0).max(600).default(30),
      lockout: z
        .strictObject({
          /** Wrong passwords for one user name from one client before its sign-ins there are delayed. */
          maxFailures: z.number().int().positive().default(5),
          /** The first delay; each further wrong password (name, client) doubles it. */
          delaySeconds: z.number().positive().max(3600).default(1),
          /** The longest delay. */
          maxDelaySeconds: z
            .number()
            .positive()
            .max(24 * 3600)
            .default(900),
          /** Failed sign-ins from one client address within the window that lock the client out. */
          maxClientFailures: z.number().int().positive().default(50),
          /** How long failures are remembered: the client's window; for a (name, client), quiet time after the last delay. */
          windowSeconds: z.number().positive().default(900),
          /** How long a client stays locked out. */
          lockSeconds: z.number().positive().default(900),
        })
        .check((ctx) => {
          if (ctx.value.maxDelaySeconds < ctx.value.delaySeconds) {
            ctx.issues.push({ code: 'custom', input: ctx.value.maxDelaySeconds, path: ['maxDelaySeconds'], message: `must be at least delaySeconds (${ctx.value.delaySeconds})` });
          }
        })
        .prefault({}),
      oidc: z.array(OidcProvider).default([]),
    })
    .check((ctx) => {
      const { refreshTokenHours, refreshTokenAbsoluteHours } = ctx.value;
      if (refreshTokenAbsoluteHours < refreshTokenHours) {
        ctx.issues.push({
          code: 'custom',
          input: refreshTokenAbsoluteHours,
          path: ['refreshTokenAbsoluteHours'],
          message: `must be at least refreshTokenHours (${refreshTokenHours}): no refresh token outlives its sign-in's absolute lifetime`,
        });
      }
    })
    .prefault({}),
  metrics: Metrics, // GET /metrics and its scrape token (config-metrics.ts)
  upstream: Upstream.optional(), // proxy mode: the DICOMweb PACS in front of which Aegis stands
  /** The access policy file (YAML, `config/policy.md`); default: the embedded `config/policy.yaml`. */
  policy: z.string().min(1).optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

/** Zod check of an address or CIDR range, with the parser's reason. */
function validNetworkRange(text: string, ctx: z.RefinementCtx): void {
  try {
    parseNetworkRange(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}

/** The validated, frozen configuration. Paths are absolute. */
export type GatewayConfig = z.infer<typeof ConfigSchema>;

/** Raised when the configuration is invalid; `problems` lists every one. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Where configuration values come from, lowest precedence first: file, environment, flags. */
export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: { host?: string; port?: number; dataDir?: string };
  /** An already parsed object used instead of a file (tests). */
  object?: unknown;
}

/** Reads, merges, validates and freezes the configuration. Throws {@link ConfigError}. */
export function loadConfig(sources: ConfigSources = {}): GatewayConfig {
  const env = sources.env ?? {};
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  const file = sources.file ?? env.AEGIS_CONFIG;
  if (sources.object !== undefined) raw = structuredClone(sources.object) as Record<string, unknown>;
  else if (file) raw = readConfigFile(file, problems);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push('the configuration must be an object');
    raw = {};
  }

  const server = { ...((raw.server as object | undefined) ?? {}) } as Record<string, unknown>;
  const overrides: Array<[string | undefined, (v: string) => void]> = [
    [env.AEGIS_HOST, (v) => (server.host = v)],
    [env.AEGIS_PORT, (v) => (server.port = parseWholeNumber(v, 'AEGIS_PORT', problems))],
    [env.AEGIS_PUBLIC_URL, (v) => (server.publicUrl = v)],
    [env.AEGIS_WORKERS, (v) => (server.workers = parseWholeNumber(v, 'AEGIS_WORKERS', problems))],
    [env.AEGIS_DATA_DIR, (v) => (raw.dataDir = v)],
    [env.AEGIS_LOG_LEVEL, (v) => (raw.log = { ...((raw.log as object) ?? {}), level: v })],
  ];
  for (const [value, apply] of overrides) if (value !== undefined && value !== '') apply(value);
  if (sources.flags?.host !== undefined) server.host = sources.flags.host;
  if (sources.flags?.port !== undefined) server.port = sources.flags.port;
  if (sources.flags?.dataDir !== undefined) raw.dataDir = sources.flags.dataDir;
  if ('trustForwardedHeaders' in server) {
    // Replaced: it trusted forwarded headers from any client.
    problems.push('server.trustForwardedHeaders: no longer supported (it trusted forwarded headers from any client); list the addresses of your reverse proxies in server.trustedProxies instead');
    delete server.trustForwardedHeaders;
  }
  raw.server = server;

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  problems.push(...crossCheck(raw));
  if (parsed.success && parsed.data.server.headersTimeoutSeconds > parsed.data.server.requestTimeoutSeconds) {
    problems.push('server.headersTimeoutSeconds: must not exceed server.requestTimeoutSeconds');
  }
  if (parsed.success) {
    const { backends, placement, protection } = parsed.data;
    problems.push(...placementProblems(placement, new Set(backends.map((b) => b.name)), protection.regions ?? Math.max(2, placement.regions?.length ?? 1)));
    if (protection.mode === 'none' && Object.hasOwn(placement.groups, placement.instances)) {
      problems.push(`placement.instances: protection mode none stores each instance whole on one backend, not on a redundancy group ('${placement.instances}')`);
    }
    for (const [i, backend] of parsed.data.backends.entries()) {
      if (backend.kind !== 's3' && backend.kind !== 'dicomweb') continue;
      const found = backend.kind === 's3' ? s3Credentials(backend, env) : dicomwebAuthorization(backend, env);
      if ('problem' in found) problems.push(`backends.${i} (${backend.name}): ${found.problem}`);
    }
    const upstream = parsed.data.upstream && upstreamAuthorization(parsed.data.upstream, env);
    if (upstream && 'problem' in upstream) problems.push(`upstream: ${upstream.problem}`);
    const scrape = metricsToken(parsed.data.metrics, env);
    if ('problem' in scrape) problems.push(`metrics: ${scrape.problem}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const config = structuredClone(parsed.data);
  config.dataDir = resolve(config.dataDir);
  if (config.policy !== undefined) config.policy = resolve(config.policy);
  for (const backend of config.backends) {
    if (backend.kind === 'fs') backend.path = resolve(config.dataDir, backend.path ?? `stores/${backend.name}`);
    if ((backend.kind === 's3' || backend.kind === 'dicomweb') && backend.credentialsFile !== undefined) backend.credentialsFile = resolve(backend.credentialsFile);
  }
  if (config.upstream?.credentialsFile !== undefined) config.upstream.credentialsFile = resolve(config.upstream.credentialsFile);
  if (config.metrics.tokenFile !== undefined) config.metrics.tokenFile = resolve(config.metrics.tokenFile);
  return deepFreeze(config);
}

/** Checks between sections, run on the raw input so they are reported along with field errors. */
function crossCheck(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const backends = Array.isArray(raw.backends) ? (raw.backends as Array<{ name?: unknown }>) : [{ name: 'local' }];
  const names = new Set<unknown>();
  backends.forEach((backend, i) => {
    if (names.has(backend?.name)) problems.push(`backends.${i}.name: duplicate backend name '${String(backend.name)}'`);
    names.add(backend?.name);
  });
  // A role may name a redundancy group as well as a backend (`config-placement.ts` checks the groups).
  const groups = (raw.placement as { groups?: unknown } | undefined)?.groups;
  const groupBackends = new Map<unknown, unknown[]>(
    groups !== null && typeof groups === 'object' ? Object.entries(groups).map(([name, g]) => [name, Array.isArray((g as { backends?: unknown })?.backends) ? (g as { backends: unknown[] }).backends : []]) : [],
  );
  for (const name of groupBackends.keys()) names.add(name);
  const instances = (raw.placement as { instances?: unknown } | undefined)?.instances ?? 'local';
  if (!names.has(instances)) problems.push(`placement.instances: no backend named '${String(instances)}'`);
  const regions = (raw.placement as { regions?: unknown } | undefined)?.regions;
  if (Array.isArray(regions)) {
    regions.forEach((name, i) => {
      if (!names.has(name)) problems.push(`placement.regions.${i}: no backend named '${String(name)}'`);
    });
  }
  // An IPFS node keeps equal bytes as one pinned file: sealed fragments never repeat, plain
  // regions of paper mode may, and deleting one instance would then unpin another's region.
  if ((raw.protection as { mode?: unknown } | undefined)?.mode === 'paper') {
    const ipfs = new Set(backends.filter((b) => (b as { kind?: unknown })?.kind === 'ipfs').map((b) => b.name));
    const used = [instances, ...(Array.isArray(regions) ? regions : [])].flatMap((name) => groupBackends.get(name) ?? [name]).filter((name) => ipfs.has(name));
    for (const name of new Set(used)) problems.push(`protection.mode: paper stores plain fragments, which an ipfs backend ('${String(name)}') would share between instances with equal bytes; use hardened`);
  }
  return problems;
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`cannot read configuration file ${file}: ${(error as Error).message}`);
    return {};
  }
  try {
    return (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) ?? {};
  } catch (error) {
    problems.push(`cannot parse configuration file ${file}: ${(error as Error).message}`);
    return {};
  }
}

function parseWholeNumber(value: string, name: string, problems: string[]): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) problems.push(`${name}: '${value}' is not a whole number up to 65535`);
  return n;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
