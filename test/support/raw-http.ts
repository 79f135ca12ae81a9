/**
 * Raw HTTP/1.1 requests for tests that `fetch` cannot express: a chosen Content-Length, a body
 * written in separate chunks (chunked transfer coding when no length is given), headers sent
 * without a body, uploads the client abandons mid-body, and raw bytes on a socket. Every request has
 * a bounded timeout.
 */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

/** A complete response. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  method?: string;
  /** Sent as given; without Content-Length (and with a body) Node uses chunked transfer coding. */
  headers?: OutgoingHttpHeaders;
  /** Written chunk by chunk, each with its own `write`. */
  body?: Buffer | Buffer[];
  /**
   * False: send the headers and the body, but do not end the request; the response is awaited
   * (a server that answers without reading the body). The socket is destroyed after any response.
   */
  end?: boolean;
  /** Milliseconds to wait between body chunks, so that the server receives them apart; default 0. */
  chunkDelayMs?: number;
  /** Milliseconds before the request is given up with an error; default 15 s. */
  timeoutMs?: number;
}

/**
 * Sends one request on a fresh connection and resolves with the response. A response that
 * arrives while the body is still being written is accepted (the server refused early); write
 * errors after it (EPIPE, ECONNRESET) are ignored.
 */
export function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false });
    const timer = setTimeout(() => {
      settle(() => reject(new Error(`${options.method ?? 'GET'} ${url.slice(0, 120)}: no complete response within ${timeoutMs} ms`)));
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settle(() => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        req.destroy(); // also a kept-alive connection: every request has its own
      });
      res.on('error', (error) => settle(() => reject(error)));
    });
    req.on('error', (error) => {
      // A server that refuses a body early may close before the client has written it all.
      setTimeout(() => settle(() => reject(error)), 200);
    });
    const chunks = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    if (chunks.length === 0 && options.end === false) req.flushHeaders();
    void (async () => {
      for (const chunk of chunks) {
        if (options.chunkDelayMs && chunk !== chunks[0]) await new Promise((r) => setTimeout(r, options.chunkDelayMs));
        if (req.destroyed) return;
        req.write(chunk);
      }
      if (options.end !== false) req.end();
    })();
  });
}

/**
 * Starts an upload, writes `sent` and then destroys the socket without finishing the body.
 * Resolves once the socket is closed, with the status of a response if one arrived first.
 */
export function abandonedUpload(url: string, headers: OutgoingHttpHeaders, sent: Buffer, delayMs = 100): Promise<{ status?: number }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    const req = request(url, { method: 'POST', headers, agent: false });
    req.on('response', (res) => {
      status = res.statusCode;
      res.resume();
    });
    req.on('error', () => undefined);
    req.on('close', () => resolve({ status }));
    req.write(sent, () => setTimeout(() => req.destroy(), delayMs));
  });
}

/**
 * Writes `bytes` as they are on a fresh TCP connection (requests Node's client would refuse to
 * send, such as a wrong Content-Length) and resolves with everything the server sent until it
 * closed the connection or `timeoutMs` passed.
 */
export function rawExchange(url: string, bytes: Buffer | string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    const received: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received).toString('latin1'));
    });
    socket.end(bytes);
  });
}
