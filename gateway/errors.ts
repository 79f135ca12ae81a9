/**
 * The one catalogue of gateway errors: every error that crosses a module boundary is a
 * {@link GatewayError} whose code is listed here with its HTTP status (DICOM PS3.18 §8.6; 404 also
 * where the policy hides that a study exists, 502 for stored data that fails verification).
 * Foreign errors are wrapped with `{ cause }` where they arise. `docs/errors.md` lists the same
 * codes; a unit test keeps the two in step.
 */

/** Every error code with its HTTP status and a short description (also the documentation). */
export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, description: 'The request is malformed.' },
  INVALID_UID: { status: 400, description: 'A UID in the path or query is not a valid DICOM UID.' },
  INVALID_QUERY_KEY: { status: 400, description: 'A QIDO-RS query key is not a known attribute keyword or tag, or names a private attribute without its Private Creator.' },
  INVALID_QUERY_VALUE: { status: 400, description: 'A QIDO-RS query value is malformed (for example a bad date range).' },
  INVALID_FRAME_LIST: { status: 400, description: 'The frame list is not a comma-separated list of positive integers.' },
  INVALID_DICOM: { status: 400, description: 'The bytes are not a DICOM Part 10 instance Aegis can understand (STOW FailureReason 0xC000).' },
  MALFORMED_MULTIPART: { status: 400, description: 'The multipart body cannot be parsed (missing boundary, truncated, bad part headers).' },
  INVALID_USER: { status: 400, description: 'A user name, role, attribute or password breaks the rules for local users.' },
  UNAUTHENTICATED: { status: 401, description: 'Credentials are missing or invalid.' },
  FORBIDDEN: { status: 403, description: 'The policy denies this action on this resource.' },
  NOT_FOUND: { status: 404, description: 'The study, series, instance, frame or bulk data does not exist.' },
  USER_NOT_FOUND: { status: 404, description: 'No local user has that name.' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The method is not supported on this resource.' },
  NOT_ACCEPTABLE: { status: 406, description: 'No representation satisfies the Accept header: the stored one, or a transcoding Aegis offers (the reason names them).' },
  REQUEST_TIMEOUT: { status: 408, description: 'The request (its headers, or its body at the configured minimum rate) did not arrive in time; the connection is closed.' },
  STOW_NOTHING_STORED: { status: 409, description: 'STOW-RS stored none of the instances (see FailedSOPSequence).' },
  CONFLICT: { status: 409, description: 'The request conflicts with stored data.' },
  USER_EXISTS: { status: 409, description: 'A local user of that name already exists.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body, a part or the number of parts exceeds a configured limit.' },
  TOO_MANY_REQUESTS: { status: 429, description: 'Too many failed sign-ins: this user name is delayed from this client, or the client is locked out, for a while (see Retry-After).' },
  TOO_MANY_CONNECTIONS: { status: 429, description: 'The client address has as many connections open as allowed; the new one is closed at once.' },
  URI_TOO_LONG: { status: 414, description: 'The request target or query string exceeds the configured limit.' },
  EXPECTATION_FAILED: { status: 417, description: 'The request has an Expect header other than 100-continue (or empty), which the gateway cannot meet.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request Content-Type is not supported by this resource.' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, description: 'The request line and header fields exceed the limit of the HTTP server.' },
  RECEIPT_INVALID: { status: 400, description: 'A STOW receipt does not verify (altered, signed by another key, or not a receipt).' },
  INTEGRITY_FAILURE: { status: 502, description: 'Stored data failed verification; nothing of it was sent (security event).' },
  UNSUPPORTED: { status: 501, description: 'A storage backend cannot do what was asked (for example list its fragments, which reindex needs).' },
  BACKEND_UNAVAILABLE: { status: 503, description: "A storage backend or the catalog is unavailable, or the backend's circuit breaker is open; retry later (see Retry-After)." },
  BACKEND_TIMEOUT: { status: 504, description: 'A storage backend did not answer within its timeoutSeconds (retries included).' },
  UPSTREAM_UNAVAILABLE: { status: 502, description: 'Proxy mode: the upstream PACS cannot be reached, refused the gateway, or answered with an error; the reason says which (its answer is not passed on).' },
  UPSTREAM_TIMEOUT: { status: 504, description: 'Proxy mode: the upstream PACS did not connect, answer or send more of its answer within the configured timeouts.' },
  SERVER_BUSY: { status: 503, description: 'The gateway has as much work of this kind waiting as it allows (rendered images and thumbnails); retry later (see Retry-After).' },
  METRICS_UNAVAILABLE: { status: 503, description: 'The metrics of every worker of the gateway could not be gathered in time; retry (see Retry-After).' },
  INTERNAL: { status: 500, description: 'An unexpected error; the request id in the log tells what happened.' },
  DEIDENTIFICATION_FAILED: { status: 500, description: 'A stored instance has a structure the de-identifier cannot edit safely; no de-identified view of it was sent.' },
  DATA_EXPOSED: { status: 500, description: 'The data directory or the catalog lets group or others access it; the gateway does not start until it is owner-only (the message says how).' },
  PORT_UNAVAILABLE: { status: 500, description: 'The gateway cannot listen on its address and port (in use, privileged, or not an address of this machine); it starts nothing and creates nothing.' },
  DATA_DIRECTORY_LOCKED: { status: 500, description: 'Another gateway runs on the data directory (the message names its PID); a second one does not start.' },
  LOCK_FILE_INVALID: { status: 500, description: "The data directory's lock file (gateway.lock) is not a regular file or not one Aegis made; the gateway does not start until it is removed." },
  KEYRING_INVALID: { status: 500, description: 'A master key file, the key directory or AEGIS_MASTER_KEY is unusable (permissions, format, duplicate id).' },
  KEY_NOT_FOUND: { status: 500, description: 'No usable master key: none exists, or the key a data key was wrapped with is not in the keyring.' },
  POLICY_INVALID: { status: 500, description: 'The access policy file is invalid; the message lists every problem with its path and line.' },
  AUDIT_TRAIL_BROKEN: { status: 500, description: 'The audit trail does not verify (its head is missing or its signature is wrong); new events are not appended until it is investigated.' },
  BACKUP_INVALID: { status: 500, description: 'A backup folder fails its checks (manifest, hashes, unlisted files, integrity, audit chain): nothing is restored.' },
  CATALOG_TOO_NEW: { status: 500, description: 'A newer Aegis has migrated the catalog (a migration this version does not know): no downgrade.' },
} as const satisfies Record<string, { status: number; description: string }>;

/** A code of the error catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Options of a {@link GatewayError}. */
export interface GatewayErrorOptions {
  /** The foreign error this one wraps. */
  cause?: unknown;
  /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** A response body to send instead of the standard JSON error (e.g. a STOW-RS response). */
  body?: unknown;
}

/** The error type that crosses module boundaries; its code decides the HTTP status. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  readonly body: unknown;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.headers = options.headers ?? {};
    this.body = options.body;
  }

  /** The HTTP status of this error's code. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/** True when `value` is a {@link GatewayError}, optionally of the given code. */
export function isGatewayError(value: unknown, code?: ErrorCode): value is GatewayError {
  return value instanceof GatewayError && (code === undefined || value.code === code);
}
