/**
 * Requests that never reach the app: those Node's HTTP parser refuses (an unknown method, control
 * characters or bytes beyond ASCII in the target, a bad version, headers beyond the size limit:
 * RFC 9112 §2.2, §3) or that time out before they are whole, and CONNECT, which the gateway does
 * not serve. Each one is answered with its status and an error body (RFC 9110 §15.5), and audited
 * like any other request: durably before the answer is sent, with the request line as far as it
 * can be read (bytes outside printable ASCII percent-escaped) and the client's `X-Request-Id`
 * when one is found in the received bytes. Socket errors that carry no request (a reset) are not
 * requests: the socket is closed and nothing is recorded.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuditEvent } from '../access/audit/event.js';
import type { AuditTrail } from '../access/audit/trail.js';
import type { ErrorCode } from '../errors.js';
import { guarded, type HookLogger } from './response-hooks.js';

/** What {@link handleClientErrors} needs. */
export interface ClientErrorDeps {
  audit: AuditTrail;
  logger: HookLogger;
}

/** A request refused before the app: how it is answered and recorded. */
interface Refusal {
  status: number;
  code: ErrorCode;
  message: string;
  method: string;
  target: string;
  requestId: string;
  headers?: Record<string, string>;
}

/** Longest part of a request line kept in a record, in characters. */
const MAX_TARGET = 2048;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const REQUEST_ID = /^[\w.-]{1,64}$/;
/** User information in an absolute-form target: never recorded. */
const USER_INFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/;

/**
 * Installs the 'clientError' and 'connect' handlers on `server`. Every handler is guarded: an
 * exception is logged and the socket closed, never thrown.
 */
export function handleClientErrors(server: Server, deps: ClientErrorDeps): void {
  server.on(
    'clientError',
    guarded(deps.logger, 'clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
      const refusal = refusalOf(error.code);
      const response = (socket as { _httpMessage?: ServerResponse })._httpMessage;
      if (refusal === undefined || !socket.writable) {
        socket.destroy();
      } else if (response != null) {
        // The app is serving a request on this connection (a timeout of its body, or bytes after it
        // that break the framing): its response, not yet started, carries the refusal, and its
        // hooks record it; one already started cannot, so the connection is closed.
        if (response.headersSent) socket.destroy();
        else endInProgress(response, refusal);
      } else {
        // Nothing more is read from the connection: a client that half-closes it after its request
        // must not make the server end it before the refusal is recorded and answered.
        socket.pause();
        refuse(socket, deps, { ...refusal, ...requestLine(error.rawPacket) });
      }
    }),
  );
  server.on(
    'connect',
    guarded(deps.logger, 'connect', (req: IncomingMessage, socket: Duplex) => {
      const header = req.headers['x-request-id'];
      refuse(socket, deps, {
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        message: 'CONNECT is not supported: this is not a proxy',
        method: 'CONNECT',
        target: printable(req.url ?? ''),
        requestId: typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID(),
        headers: { Allow: 'GET, HEAD, POST, DELETE, OPTIONS' },
      });
    }),
  );
}

/** How a parser or timeout error is answered; undefined for socket errors that carry no request. */
function refusalOf(code: string | undefined): Pick<Refusal, 'status' | 'code' | 'message'> | undefined {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, code: 'REQUEST_HEADERS_TOO_LARGE', message: 'the request line and header fields are too large' };
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'a chunk extension is too large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
  return code?.startsWith('HPE_') ? { status: 400, code: 'BAD_REQUEST', message: `the request cannot be parsed (${code})` } : undefined;
}

/** Records the refusal durably, then answers it and closes the connection. */
function refuse(socket: Duplex, deps: ClientErrorDeps, refusal: Refusal): void {
  const client = (socket as { remoteAddress?: string }).remoteAddress ?? 'unknown';
  const event: AuditEvent = {
    requestId: refusal.requestId,
    kind: 'request',
    actor: { name: '(unauthenticated)', clientAddress: client },
    action: refusal.method as AuditEvent['action'],
    outcome: 'failure',
    reason: `HTTP ${refusal.status}: ${refusal.message}`,
    http: { method: refusal.method, path: refusal.target, status: refusal.status },
  };
  const answer = () => {
    const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message, requestId: refusal.requestId } });
    const fields = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), 'X-Request-Id': refusal.requestId, Connection: 'close', ...refusal.headers };
    const head = `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n${Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    if (socket.writable) socket.end(head + body, () => socket.destroy());
    else socket.destroy();
  };
  deps.audit.recordNow(event).then(answer, (error: unknown) => {
    deps.logger.error({ err: error, reqId: refusal.requestId }, 'the audit record of a refused request is not durable: the connection is closed without an answer');
    socket.destroy();
  });
}

/**
 * Ends a response the app has not started with a refusal (status, catalogue code, message as the
 * standard error body) and closes the connection after it; the app's hooks record it.
 */
export function endInProgress(res: ServerResponse, refusal: Pick<Refusal, 'status' | 'code' | 'message'>): void {
  const requestId = (res.req as { id?: string } | undefined)?.id;
  res.statusCode = refusal.status;
  res.setHeader('Connection', 'close');
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ error: { code: refusal.code, message: refusal.message, requestId } }));
}

/** The method, target and client request id read from the bytes the parser refused, as far as they go. */
function requestLine(raw: Buffer | undefined): Pick<Refusal, 'method' | 'target' | 'requestId'> {
  const text = raw === undefined ? '' : raw.subarray(0, 64 * 1024).toString('latin1');
  const end = text.indexOf('\r\n');
  const [method = '', target = ''] = (end < 0 ? text : text.slice(0, end)).split(' ');
  const id = /\r\nx-request-id:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(text)?.[1];
  return {
    method: TOKEN.test(method) ? method : '(unreadable)',
    target: printable(target.replace(USER_INFO, '$1')),
    requestId: id !== undefined && REQUEST_ID.test(id) ? id : randomUUID(),
  };
}

/** `text` with every character outside printable ASCII percent-escaped, at most {@link MAX_TARGET} characters. */
function printable(text: string): string {
  const escaped = text.slice(0, MAX_TARGET).replace(/[^\x21-\x7e]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return text.length > MAX_TARGET ? `${escaped}...(${text.length - MAX_TARGET} more characters)` : escaped;
}
