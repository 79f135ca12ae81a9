/**
 * The `backends` section of the configuration: one schema per adapter kind (fs, s3, ipfs,
 * dicomweb), discriminated on `kind`, and the credentials of S3 and DICOMweb servers, which never
 * come from the configuration file: from the environment (`AEGIS_S3_<NAME>_ACCESS_KEY_ID`,
 * `AEGIS_DICOMWEB_<NAME>_PASSWORD`, ...) or from an owner-only file the configuration names. Part of the configuration module (`config.ts`), which validates them at
 * start-up with everything else.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/** Longest one call of a backend may take, retries included, before it fails with BACKEND_TIMEOUT (504). */
const TimeoutSeconds = z.number().positive().max(3600).default(30);

/**
 * Retries of a call that failed with BACKEND_UNAVAILABLE or BACKEND_TIMEOUT, after an exponentially
 * growing, jittered delay, while the call's `timeoutSeconds` last. Only idempotent calls are retried
 * (reads, has, delete, check, list before its first result, and puts of a byte array: the gateway
 * writes each key once, so writing it again writes the same bytes); a put of a stream is not.
 */
const Retries = z
  .strictObject({
    /** Retries after the first attempt; 0: none. */
    attempts: z.number().int().min(0).max(10).default(2),
    /** Delay before the first retry, in milliseconds (the jitter spreads it). */
    initialDelayMs: z.number().int().min(1).max(60_000).default(100),
    /** Longest delay between two attempts, in milliseconds. */
    maxDelayMs: z.number().int().min(1).max(60_000).default(2000),
  })
  .prefault({});

/**
 * The circuit breaker of a backend: after `failures` consecutive calls failed with
 * BACKEND_UNAVAILABLE or BACKEND_TIMEOUT (retries included), calls fail at once with
 * BACKEND_UNAVAILABLE (503, Retry-After) for `halfOpenAfterSeconds`; then one call probes the
 * backend, and its outcome closes the breaker or opens it again.
 */
const Breaker = z
  .strictObject({
    failures: z.number().int().min(1).max(1000).default(5),
    halfOpenAfterSeconds: z.number().positive().max(3600).default(30),
  })
  .prefault({});

export const BackendName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'backend names are lower-case letters, digits and dashes');

/** The settings every kind of backend shares (spread into each kind's schema): name, timeout, retries, circuit breaker. */
export const BACKEND_COMMON = {
  name: BackendName,
  timeoutSeconds: TimeoutSeconds,
  retries: Retries,
  breaker: Breaker,
};

const FsBackend = z.strictObject({
  ...BACKEND_COMMON,
  kind: z.literal('fs'),
  /** Folder of the store; default `DATA/stores/<name>`. */
  path: z.string().min(1).optional(),
});

const S3Backend = z.strictObject({
  ...BACKEND_COMMON,
  kind: z.literal('s3'),
  /** Service URL of an S3-compatible store; absent: AWS S3 in `region`. */
  endpoint: z.url().optional(),
  region: z.string().min(1),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lower-case letters, digits, dots and dashes'),
  /** Put before every key: empty, or segments ending with `/`. */
  prefix: z
    .string()
    .regex(/^(?:[A-Za-z0-9._-]+\/)*$/, 'empty, or segments of [A-Za-z0-9._-] each ending with /')
    .default(''),
  /** Path-style URLs (`endpoint/bucket/key`); most S3-compatible stores need it. */
  forcePathStyle: z.boolean().default(false),
  /** A JSON file `{ accessKeyId, secretAccessKey, sessionToken? }` readable by its owner only; otherwise the environment. */
  credentialsFile: z.string().min(1).optional(),
});

const IpfsBackend = z.strictObject({
  ...BACKEND_COMMON,
  kind: z.literal('ipfs'),
  /** The Kubo RPC API of the node (or IPFS Cluster), e.g. `http://127.0.0.1:5001/api/v0`. */
  url: z.url(),
});

const DicomwebBackend = z.strictObject({
  kind: z.literal('dicomweb'),
  /** The DICOMweb root of the PACS, e.g. `http://pacs:8042/dicom-web`. */
  url: z.url(),
  /** Orthanc's REST root, e.g. `http://pacs:8042`: deletes go through its API; absent: DICOMweb DELETE. */
  orthancUrl: z.url().optional(),
  /** Mixed into the UIDs of the instances this backend stores (not a secret); default: the backend name. */
  uidSalt: z.string().min(1).max(200).optional(),
  /** How requests authenticate: `none`, HTTP `basic` or a `bearer` token (credentials from the environment or `credentialsFile`). */
  auth: z.enum(['none', 'basic', 'bearer']),
  /** A JSON file `{ username, password }` or `{ token }` readable by its owner only; otherwise the environment. */
  credentialsFile: z.string().min(1).optional(),
  ...BACKEND_COMMON,
});

/** One storage backend, by `kind`. */
export const Backend = z.discriminatedUnion('kind', [FsBackend, S3Backend, IpfsBackend, DicomwebBackend]);

/** A configured backend. */
export type BackendConfig = z.infer<typeof Backend>;
/** A configured S3 backend. */
export type S3BackendConfig = z.infer<typeof S3Backend>;
/** A configured DICOMweb backend. */
export type DicomwebBackendConfig = z.infer<typeof DicomwebBackend>;

/** Static credentials of an S3 access key. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The environment variable of an S3 backend's credential `part`: `AEGIS_S3_<NAME>_<PART>`, the
 * backend name in upper case with dashes as underscores (`s3-eu` -> `AEGIS_S3_S3_EU_ACCESS_KEY_ID`).
 */
export function s3CredentialVariable(backend: string, part: 'ACCESS_KEY_ID' | 'SECRET_ACCESS_KEY' | 'SESSION_TOKEN'): string {
  return `AEGIS_S3_${backend.toUpperCase().replaceAll('-', '_')}_${part}`;
}

/**
 * The credentials of an S3 backend, from exactly one place: the file its `credentialsFile` names
 * (JSON, readable by its owner only), or the variables {@link s3CredentialVariable} names. Never a
 * default: when neither is there, or both are, or one is incomplete, a problem saying so.
 */
export function s3Credentials(backend: Pick<S3BackendConfig, 'name' | 'credentialsFile'>, env: NodeJS.ProcessEnv): { credentials: S3Credentials } | { problem: string } {
  const keyVar = s3CredentialVariable(backend.name, 'ACCESS_KEY_ID');
  const secretVar = s3CredentialVariable(backend.name, 'SECRET_ACCESS_KEY');
  const tokenVar = s3CredentialVariable(backend.name, 'SESSION_TOKEN');
  const fromEnv = [keyVar, secretVar, tokenVar].some((v) => env[v] !== undefined && env[v] !== '');
  if (backend.credentialsFile !== undefined) {
    if (fromEnv) return { problem: `credentials come from credentialsFile or from ${keyVar} and ${secretVar}, not both` };
    const read = readCredentialsFile<S3Credentials>(backend.credentialsFile);
    if ('problem' in read) return read;
    const { file, parsed } = read;
    const { accessKeyId, secretAccessKey, sessionToken } = parsed ?? {};
    if (typeof accessKeyId !== 'string' || accessKeyId === '' || typeof secretAccessKey !== 'string' || secretAccessKey === '' || (sessionToken !== undefined && typeof sessionToken !== 'string')) {
      return { problem: `credentialsFile ${file} must hold { "accessKeyId": "...", "secretAccessKey": "..." } (and optionally "sessionToken")` };
    }
    return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
  }
  const accessKeyId = env[keyVar];
  const secretAccessKey = env[secretVar];
  if (!accessKeyId || !secretAccessKey) return { problem: `no credentials: set ${keyVar} and ${secretVar} in the environment, or credentialsFile` };
  return { credentials: { accessKeyId, secretAccessKey, ...(env[tokenVar] ? { sessionToken: env[tokenVar] } : {}) } };
}

/**
 * The JSON of an owner-only credentials file, or a problem: unreadable, readable by others than
 * its owner, or not JSON.
 */
function readCredentialsFile<T>(name: string): { file: string; parsed: Partial<T> | null } | { problem: string } {
  const file = resolve(name);
  let text: string;
  try {
    if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) return { problem: `credentialsFile ${file} is readable by others than its owner (chmod 600 it)` };
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problem: `cannot read credentialsFile ${file}: ${(error as Error).message}` };
  }
  try {
    return { file, parsed: JSON.parse(text) as Partial<T> | null };
  } catch {
    return { problem: `credentialsFile ${file} is not JSON` };
  }
}

/**
 * The environment variable of a DICOMweb backend's credential `part`: `AEGIS_DICOMWEB_<NAME>_<PART>`,
 * the backend name in upper case with dashes as underscores.
 */
export function dicomwebCredentialVariable(backend: string, part: 'USERNAME' | 'PASSWORD' | 'TOKEN'): string {
  return `AEGIS_DICOMWEB_${backend.toUpperCase().replaceAll('-', '_')}_${part}`;
}

/**
 * The `Authorization` header of a DICOMweb backend (none for `auth: none`), its credentials from
 * exactly one place: the `credentialsFile` (`{ username, password }` for basic, `{ token }` for
 * bearer; owner-only) or the variables `variableOf` names (default: {@link dicomwebCredentialVariable}). Never a default:
 * credentials missing, incomplete, doubled, or given to `auth: none` are a problem saying so.
 */
export function dicomwebAuthorization(
  backend: Pick<DicomwebBackendConfig, 'name' | 'auth' | 'credentialsFile'>,
  env: NodeJS.ProcessEnv,
  variableOf: (part: 'USERNAME' | 'PASSWORD' | 'TOKEN') => string = (part) => dicomwebCredentialVariable(backend.name, part),
): { authorization?: string } | { problem: string } {
  const parts = backend.auth === 'bearer' ? (['TOKEN'] as const) : (['USERNAME', 'PASSWORD'] as const);
  const variables = (['USERNAME', 'PASSWORD', 'TOKEN'] as const).map(variableOf);
  const fromEnv = variables.some((v) => env[v] !== undefined && env[v] !== '');
  if (backend.auth === 'none') {
    if (backend.credentialsFile !== undefined || fromEnv) return { problem: `auth is none, but credentials are given (credentialsFile or ${variables.join(', ')})` };
    return {};
  }
  let values: Array<string | undefined>;
  if (backend.credentialsFile !== undefined) {
    if (fromEnv) return { problem: `credentials come from credentialsFile or from ${variables.join(', ')}, not both` };
    const read = readCredentialsFile<{ username: string; password: string; token: string }>(backend.credentialsFile);
    if ('problem' in read) return read;
    values = parts.map((part) => read.parsed?.[part.toLowerCase() as 'username' | 'password' | 'token']);
  } else {
    values = parts.map((part) => env[variableOf(part)]);
  }
  if (!values.every((v) => typeof v === 'string' && v !== '')) {
    return { problem: `no complete ${backend.auth} credentials: set ${parts.map(variableOf).join(' and ')}, or credentialsFile with { ${parts.map((p) => `"${p.toLowerCase()}"`).join(', ')} }` };
  }
  const [first, second] = values as string[];
  return { authorization: backend.auth === 'bearer' ? `Bearer ${first}` : `Basic ${Buffer.from(`${first}:${second}`).toString('base64')}` };
}
