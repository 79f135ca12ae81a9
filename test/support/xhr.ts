/**
 * XMLHttpRequest for Node tests that drive browser DICOMweb clients (`dicomweb-client`, as used by
 * OHIF): installs the `xhr2` package as the global `XMLHttpRequest`, and builds XHR instances that
 * record what they sent and can rewrite the Accept header (the client cannot ask for
 * `transfer-syntax=*` on instance retrieval by itself).
 */
import { createRequire } from 'node:module';

/** The part of XMLHttpRequest these tests use (the project compiles without the DOM lib). */
export interface NodeXhr {
  open(method: string, url: string, async?: boolean): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body?: unknown): void;
  readonly status: number;
  readonly response: unknown;
}

type XhrConstructor = new () => NodeXhr;

const Xhr2 = createRequire(import.meta.url)('xhr2') as XhrConstructor;

/** Makes `xhr2` the global XMLHttpRequest (idempotent); returns the constructor. */
export function installXhr(): XhrConstructor {
  const g = globalThis as { XMLHttpRequest?: unknown };
  if (g.XMLHttpRequest === undefined) g.XMLHttpRequest = Xhr2;
  return Xhr2;
}

/** Rewrites applied by {@link RecordingXhr}. */
export interface XhrRewrites {
  /** New value for the Accept header the client sets. */
  accept?: (accept: string) => string;
  /** New request body for the one the client sends. */
  body?: (body: unknown) => unknown;
}

/** An XHR that remembers the request it sent and may rewrite its Accept header or its body. */
export class RecordingXhr extends Xhr2 {
  /** Method and URL given to open(). */
  method = '';
  url = '';
  /** Request headers as finally set (names lower-cased). */
  readonly sentHeaders: Record<string, string> = {};

  constructor(private readonly rewrites: XhrRewrites = {}) {
    super();
  }

  override open(method: string, url: string, async?: boolean): void {
    this.method = method;
    this.url = url;
    super.open(method, url, async);
  }

  override setRequestHeader(name: string, value: string): void {
    const v = name.toLowerCase() === 'accept' && this.rewrites.accept ? this.rewrites.accept(value) : value;
    this.sentHeaders[name.toLowerCase()] = v;
    super.setRequestHeader(name, v);
  }

  override send(body?: unknown): void {
    super.send(this.rewrites.body && body !== undefined ? this.rewrites.body(body) : body);
  }
}

/**
 * Adds `; transfer-syntax=*` to every `multipart/related` media range of an Accept value that does
 * not name a transfer syntax yet (what a client that wants the instances as stored sends).
 */
export function acceptAnyTransferSyntax(accept: string): string {
  return accept
    .split(',')
    .map((range) => (/transfer-syntax=/i.test(range) ? range.trim() : `${range.trim()}; transfer-syntax=*`))
    .join(', ');
}

/**
 * Drops the empty preamble (a leading CRLF) that `dicomweb-client`'s multipartEncode puts before
 * the first boundary of a STOW-RS body; for servers that only accept a body starting with `--`.
 */
export function withoutLeadingCrlf(body: unknown): unknown {
  if (!(body instanceof ArrayBuffer)) return body;
  const bytes = new Uint8Array(body);
  return bytes[0] === 0x0d && bytes[1] === 0x0a ? body.slice(2) : body;
}
