/**
 * The HTTP client of proxy mode: requests to the upstream PACS's DICOMweb root through one undici
 * connection pool (at most `maxConnections`, kept alive between requests), with its timeouts
 * (connect, response headers, body idle), and answers streamed, never buffered, except the bounded
 * JSON a decision or a search needs.
 *
 * What goes to the upstream is built, not copied: the path, the query, `Accept` and the gateway's
 * own `Authorization` for the upstream. Nothing else of the client's request is forwarded: no
 * hop-by-hop header (RFC 9110 §7.6.1: Connection, Keep-Alive, TE, Trailer, Upgrade,
 * Transfer-Encoding, Proxy-*), no client credential (Authorization, Cookie). What comes back is
 * read the same way: status, `Content-Type`, `Content-Length`, the body.
 *
 * Failures become the gateway's errors here, at the edge: no connection, a reset, or an upstream
 * 5xx / 401 / 403 -> UPSTREAM_UNAVAILABLE (502) with the reason; a connect, headers or body-idle
 * timeout -> UPSTREAM_TIMEOUT (504); an upstream 404 -> NOT_FOUND. The upstream's error bodies
 * and headers are drained and dropped, never passed on.
 */
import type { Readable } from 'node:stream';
import { Pool, request as undiciRequest, errors as undiciErrors } from 'undici';
import type { UpstreamConfig } from '../../config.js';
import { GatewayError } from '../../errors.js';

/** An answer of the upstream with a 2xx status. */
export interface UpstreamAnswer {
  status: number;
  contentType?: string;
  contentLength?: string;
  body: Readable;
}

/** Options of one request to the upstream. */
export interface UpstreamRequest {
  method?: 'GET' | 'POST' | 'DELETE';
  /** The Accept header to send; absent: none. */
  accept?: string;
  contentType?: string;
  body?: Readable | Buffer;
  /** Aborts the request (the client went away). */
  signal?: AbortSignal;
}

/** Longest JSON answer read into memory (a study's instances for a decision, a search). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/**
 * How long before the end of the keep-alive time the upstream announces (`Keep-Alive: timeout=N`)
 * an idle connection stops being reused, so that a request never races the upstream's close.
 * undici's default, 2 s, is longer than Orthanc's whole announced second: every connection was
 * closed after one answer and each request paid a new TCP connection. With 500 ms an idle
 * connection to Orthanc is reused for half a second.
 */
const KEEP_ALIVE_MARGIN_MS = 500;

/** Requests to the upstream PACS. */
export class UpstreamClient {
  readonly #pool: Pool;
  readonly #root: URL;
  readonly #authorization: string | undefined;

  /** `authorization`: the header value for the upstream (from `upstreamAuthorization`), or none. */
  constructor(
    readonly config: UpstreamConfig,
    authorization: string | undefined,
  ) {
    this.#root = new URL(config.url.replace(/\/+$/, ''));
    this.#authorization = authorization;
    this.#pool = new Pool(this.#root.origin, {
      connections: config.maxConnections,
      connect: { timeout: config.connectTimeoutSeconds * 1000 },
      headersTimeout: config.headersTimeoutSeconds * 1000,
      bodyTimeout: config.bodyIdleTimeoutSeconds * 1000,
      keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
    });
  }

  /** The upstream's DICOMweb root as its own URLs start (no trailing slash). */
  get rootUrl(): string {
    return this.#root.href.replace(/\/+$/, '');
  }

  /** Requests `path` (relative to the DICOMweb root, with its query) and resolves with a 2xx answer, or throws a GatewayError. */
  async request(path: string, options: UpstreamRequest = {}): Promise<UpstreamAnswer> {
    const headers: Record<string, string> = {};
    if (options.accept !== undefined) headers.accept = options.accept;
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await this.#pool.request({ path: `${this.#root.pathname.replace(/\/+$/, '')}${path}`, method: options.method ?? 'GET', headers, body: options.body, signal: options.signal });
    } catch (error) {
      throw upstreamFailure(error);
    }
    const { statusCode, body } = response;
    if (statusCode >= 200 && statusCode < 300) {
      body.on('error', () => undefined); // read by the caller; a late failure surfaces there
      return { status: statusCode, contentType: headerOf(response.headers['content-type']), contentLength: headerOf(response.headers['content-length']), body };
    }
    body.resume(); // drained and dropped: nothing of an error answer is passed on
    body.on('error', () => undefined);
    throw statusError(statusCode);
  }

  /** GETs `path` as DICOM JSON (at most 64 MiB). A 204 is an empty array. */
  async json<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
    const answer = await this.request(path, { accept: 'application/dicom+json', signal });
    if (answer.status === 204) {
      answer.body.resume();
      return [] as T;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of answer.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_JSON_BYTES) {
          answer.body.destroy();
          throw new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS answered ${path.split('?')[0]} with more than ${MAX_JSON_BYTES} bytes of JSON`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw upstreamFailure(error);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
    } catch (cause) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS answered ${path.split('?')[0]} with something other than JSON`, { cause });
    }
  }

  /**
   * Deletes one instance from the upstream: through Orthanc's REST API when `orthancUrl` is set
   * (look the SOP Instance UID up, then DELETE the instance), else with a DICOMweb DELETE.
   * Resolves once the upstream confirmed; throws a GatewayError otherwise.
   */
  async deleteInstance(study: string, series: string, sop: string): Promise<void> {
    if (this.config.orthancUrl === undefined) {
      (await this.request(`/studies/${study}/series/${series}/instances/${sop}`, { method: 'DELETE' })).body.resume();
      return;
    }
    const root = this.config.orthancUrl.replace(/\/+$/, '');
    const headers: Record<string, string> = this.#authorization === undefined ? {} : { authorization: this.#authorization };
    const timeouts = { headersTimeout: this.config.headersTimeoutSeconds * 1000, bodyTimeout: this.config.bodyIdleTimeoutSeconds * 1000 };
    try {
      const lookup = await undiciRequest(`${root}/tools/lookup`, { method: 'POST', body: sop, headers, ...timeouts });
      if (lookup.statusCode !== 200) {
        await lookup.body.dump();
        throw statusError(lookup.statusCode);
      }
      const found = ((await lookup.body.json()) as Array<{ ID?: string; Type?: string }>).find((r) => r.Type === 'Instance' && typeof r.ID === 'string');
      if (found === undefined) throw new GatewayError('NOT_FOUND', `the upstream PACS has no instance ${sop}`);
      const removed = await undiciRequest(`${root}/instances/${encodeURIComponent(found.ID!)}`, { method: 'DELETE', headers, ...timeouts });
      await removed.body.dump();
      if (removed.statusCode !== 200) throw statusError(removed.statusCode);
    } catch (error) {
      throw upstreamFailure(error);
    }
  }

  /** Closes the pool's connections. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The gateway error of an upstream answer that is not 2xx. */
function statusError(status: number): GatewayError {
  if (status === 404) return new GatewayError('NOT_FOUND', 'the upstream PACS has no such resource');
  if (status === 401 || status === 403) return new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS refused the gateway's credentials (HTTP ${status})`);
  if (status === 406) return new GatewayError('NOT_ACCEPTABLE', 'the upstream PACS cannot give the representation asked for (HTTP 406)');
  if (status === 400) return new GatewayError('BAD_REQUEST', 'the upstream PACS refused the request as malformed (HTTP 400)');
  return new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS answered HTTP ${status}`);
}

/**
 * The gateway error of a failed exchange with the upstream: timeouts 504, everything else 502.
 * GatewayErrors pass through.
 */
export function upstreamFailure(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof undiciErrors.ConnectTimeoutError) return new GatewayError('UPSTREAM_TIMEOUT', 'the upstream PACS did not accept a connection within connectTimeoutSeconds', { cause: error });
  if (error instanceof undiciErrors.HeadersTimeoutError) return new GatewayError('UPSTREAM_TIMEOUT', 'the upstream PACS did not answer within headersTimeoutSeconds', { cause: error });
  if (error instanceof undiciErrors.BodyTimeoutError) return new GatewayError('UPSTREAM_TIMEOUT', 'the upstream PACS stopped sending its answer for longer than bodyIdleTimeoutSeconds', { cause: error });
  const code = (error as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') {
    return new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS cannot be reached (${code})`, { cause: error });
  }
  if (error instanceof Error && error.name === 'AbortError') return new GatewayError('UPSTREAM_UNAVAILABLE', 'the request to the upstream PACS was abandoned', { cause: error });
  return new GatewayError('UPSTREAM_UNAVAILABLE', `the exchange with the upstream PACS failed (${code ?? (error as Error)?.name ?? 'unknown'})`, { cause: error });
}
