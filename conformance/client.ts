/**
 * The suite's HTTP client: every request goes to the DICOMweb root given on the command line, with
 * the operator's headers (credentials), and has a deadline, so that a server that hangs fails a
 * check instead of hanging the suite. `fetch` for well-formed requests; `raw` (node:http) for
 * those a conforming client library refuses to send (a malformed body framing, an empty Expect).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A response, read whole (the suite's instances are small). */
export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The Content-Type header, '' when absent. */
  contentType: string;
  /** The body as text (for messages and JSON). */
  text(): string;
  /** The body parsed as JSON; throws a readable error when it is not JSON. */
  json(): unknown;
}

/** What a request may carry besides its method and path. */
export interface RequestOptions {
  accept?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Leave out the operator's headers (an unauthenticated request). */
  anonymous?: boolean;
  /** Replace the operator's headers with these (another user's credentials). */
  credentials?: Record<string, string>;
}

/** Options of a {@link DicomWebClient}. */
export interface ClientOptions {
  /** The DICOMweb root, e.g. `http://host:8080/dicom-web` (no trailing slash). */
  baseUrl: string;
  /** Headers sent with every request (e.g. Authorization). */
  headers: Record<string, string>;
  /** Deadline of each request, in milliseconds. */
  timeoutMs: number;
}

/** Talks to the server under test. */
export class DicomWebClient {
  constructor(readonly options: ClientOptions) {}

  /** The absolute URL of `path` (relative to the DICOMweb root, starting with `/`), or `path` when already absolute. */
  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.options.baseUrl}${path}`;
  }

  /** Sends a request and reads the whole response; rejects on a transport error or the deadline. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const url = this.url(path);
    const headers = this.headersOf(url, options);
    const response = await fetch(url, {
      method,
      headers,
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    const body = Buffer.from(await response.arrayBuffer());
    return reply(response.status, response.headers, body);
  }

  /** GET with an Accept header. */
  get(path: string, accept?: string, options: RequestOptions = {}): Promise<Reply> {
    return this.request('GET', path, { ...options, accept });
  }

  /**
   * A request through node:http with exactly these headers (plus the operator's) and body: for
   * requests fetch would refuse or repair. Destroyed at the deadline.
   */
  raw(method: string, path: string, headers: Record<string, string>, body: Uint8Array | string = ''): Promise<Reply> {
    const url = new URL(this.url(path));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const all = { ...(url.origin === new URL(this.options.baseUrl).origin ? this.options.headers : {}), ...headers };
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers: all, timeout: this.options.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const replyHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) replyHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          resolve(reply(res.statusCode ?? 0, replyHeaders, Buffer.concat(chunks)));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * The headers of a request to `url`: the operator's (or the given credentials) only when `url`
   * is on the server under test, so that a RetrieveURL or BulkDataURI pointing elsewhere never
   * receives them.
   */
  private headersOf(url: string, options: RequestOptions): Record<string, string> {
    const sameOrigin = new URL(url).origin === new URL(this.options.baseUrl).origin;
    const base = !sameOrigin ? {} : (options.credentials ?? (options.anonymous ? {} : this.options.headers));
    return { ...base, ...(options.accept === undefined ? {} : { Accept: options.accept }), ...options.headers };
  }
}

function reply(status: number, headers: Headers, body: Buffer): Reply {
  return {
    status,
    headers,
    body,
    contentType: headers.get('content-type') ?? '',
    text: () => body.toString('utf8'),
    json: () => {
      try {
        return JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        throw new Error(`the body is not JSON: ${JSON.stringify(body.subarray(0, 120).toString('utf8'))}`);
      }
    },
  };
}

/** A short description of a response for the report: status, media type and the start of the body. */
export function describeReply(r: Reply): string {
  const type = r.contentType === '' ? '' : ` ${r.contentType.split(';')[0]}`;
  const text = r.contentType.includes('json') || r.contentType.startsWith('text/') ? ` ${JSON.stringify(r.text().slice(0, 160))}` : r.body.length > 0 ? ` (${r.body.length} bytes)` : '';
  return `${r.status}${type}${text}`;
}
