/**
 * multipart/related bodies (RFC 2387) as DICOMweb uses them (PS3.18 §8.6.1.2): reading STOW-RS
 * requests part by part with limits, and writing WADO-RS responses with a random boundary,
 * streamed with back-pressure. Reading drives @remix-run/multipart-parser's streaming parser.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { MaxFileSizeExceededError, MaxHeaderSizeExceededError, MaxPartsExceededError, MaxTotalSizeExceededError, MultipartParseError, MultipartParser, type MultipartPart } from '@remix-run/multipart-parser/node';
import { GatewayError } from '../errors.js';
import { headerValue } from './header-text.js';

/** One part read from a request. */
export interface RequestPart {
  contentType?: string;
  bytes: Buffer;
}

/** Limits on a multipart request. */
export interface MultipartLimits {
  maxPartBytes: number;
  maxParts: number;
  maxBodyBytes: number;
}

/** The most bytes of preamble (before the first boundary) or epilogue (after the last) read and ignored. */
const MAX_PREAMBLE_BYTES = 16 * 1024;
const MAX_EPILOGUE_BYTES = 64 * 1024;

/**
 * Yields the parts of a multipart request as they complete. A preamble before the first boundary
 * and an epilogue after the closing one are ignored (RFC 2046 §5.1.1), within limits. Throws
 * MALFORMED_MULTIPART for a body that cannot be parsed (including one that ends before its closing
 * boundary) and PAYLOAD_TOO_LARGE when a limit is exceeded. It stops reading at the closing
 * boundary (or after a bounded epilogue): `req.complete` tells whether the whole body was read.
 */
export async function* readMultipart(req: IncomingMessage, boundary: string, limits: MultipartLimits): AsyncGenerator<RequestPart> {
  const parser = new MultipartParser(boundary, {
    maxHeaderSize: 16 * 1024,
    maxFileSize: limits.maxPartBytes,
    maxParts: limits.maxParts,
    maxTotalSize: limits.maxBodyBytes,
  });
  const opening = Buffer.from(`--${boundary}`, 'latin1');
  let head: Buffer | undefined = Buffer.alloc(0); // bytes before the first boundary was found
  let epilogue = 0;
  let finished = false;
  try {
    // destroyOnReturn: false, or leaving early would destroy the socket before the error response.
    for await (let chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        const start = findOpeningBoundary(head, opening);
        if (start < 0) {
          if (head.length > MAX_PREAMBLE_BYTES + opening.length + 2) throw noBoundary();
          continue;
        }
        chunk = head.subarray(start);
        head = undefined;
      }
      if (finished) {
        epilogue += chunk.length;
        if (epilogue > MAX_EPILOGUE_BYTES) return;
        continue;
      }
      try {
        yield* parts(parser.write(chunk));
      } catch (error) {
        // Bytes after the closing boundary (an epilogue, or its CRLF arriving late) make the
        // parser throw; checking only then keeps `finish()`'s exception off the hot path.
        if (!isFinished(parser)) throw error;
        finished = true;
        epilogue += chunk.length;
      }
    }
    if (head !== undefined) throw head.length === 0 ? new GatewayError('MALFORMED_MULTIPART', 'the request body is empty') : noBoundary();
    if (!isFinished(parser)) throw new GatewayError('MALFORMED_MULTIPART', 'the multipart body ends before its closing boundary (truncated)');
  } catch (error) {
    throw translateParseError(error);
  }
}

function* parts(parsed: Iterable<MultipartPart>): Generator<RequestPart> {
  for (const part of parsed) {
    let headers;
    try {
      headers = part.headers;
    } catch (error) {
      throw new GatewayError('MALFORMED_MULTIPART', 'the headers of a part are not valid UTF-8', { cause: error });
    }
    const bytes = part.content.length === 1 ? Buffer.from(part.content[0].buffer, part.content[0].byteOffset, part.content[0].byteLength) : Buffer.concat(part.content);
    yield { contentType: headers['content-type'], bytes };
  }
}

/** Where the first boundary delimiter starts: at 0, or after a preamble and CRLF; -1 when not (yet) found. */
function findOpeningBoundary(head: Buffer, opening: Buffer): number {
  if (head.length >= opening.length && head.subarray(0, opening.length).equals(opening)) return 0;
  const at = head.indexOf(Buffer.concat([Buffer.from('\r\n'), opening]));
  return at < 0 ? -1 : at + 2;
}

/** True once the parser has read the closing boundary (`finish()` throws before that). */
function isFinished(parser: MultipartParser): boolean {
  try {
    parser.finish();
    return true;
  } catch {
    return false;
  }
}

function noBoundary(): GatewayError {
  return new GatewayError('MALFORMED_MULTIPART', 'the body does not start with the boundary given in the Content-Type');
}

function translateParseError(error: unknown): unknown {
  if (error instanceof GatewayError) return error;
  if (error instanceof MaxFileSizeExceededError) return new GatewayError('PAYLOAD_TOO_LARGE', 'a part exceeds the largest allowed instance size', { cause: error });
  if (error instanceof MaxPartsExceededError) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request has more parts than allowed', { cause: error });
  if (error instanceof MaxTotalSizeExceededError) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body exceeds the largest allowed size', { cause: error });
  if (error instanceof MaxHeaderSizeExceededError) return new GatewayError('MALFORMED_MULTIPART', 'a part header is too large', { cause: error });
  if (error instanceof MultipartParseError) return new GatewayError('MALFORMED_MULTIPART', `malformed multipart body: ${error.message}`, { cause: error });
  const code = (error as { code?: string })?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted') {
    return new GatewayError('MALFORMED_MULTIPART', 'the request body ended early (connection closed)', { cause: error });
  }
  return error;
}

/** A fresh random boundary (never derived from a UID). */
export function newBoundary(): string {
  return `aegis-${randomBytes(16).toString('hex')}`;
}

/** A part of a multipart response: its header fields and the length of its body. */
export interface PlannedPart {
  headers: Record<string, string>;
  length: number;
}

/**
 * Writes a multipart/related response whose parts are known in advance (header fields and body
 * lengths), so that it carries a Content-Length: a client can tell a complete response from one
 * cut short by an error after the status was sent. Back-pressure is honoured.
 */
export class MultipartWriter {
  readonly boundary = newBoundary();
  private readonly heads: Buffer[];
  private next = 0;

  constructor(
    private readonly res: ServerResponse,
    type: string,
    private readonly parts: PlannedPart[],
  ) {
    this.heads = parts.map((part, i) => {
      const fields = Object.entries(part.headers)
        .map(([k, v]) => `${k}: ${headerValue(v)}\r\n`)
        .join('');
      return Buffer.from(`${i === 0 ? '' : '\r\n'}--${this.boundary}\r\n${fields}\r\n`, 'latin1');
    });
    const total = this.heads.reduce((sum, head, i) => sum + head.length + parts[i].length, 0) + this.closing().length;
    res.setHeader('Content-Type', `multipart/related; type="${type}"; boundary=${this.boundary}`);
    res.setHeader('Content-Length', String(total));
  }

  /** Writes the body of the next planned part; it must have the planned length. */
  async writePart(body: Buffer | Readable): Promise<void> {
    const index = this.next++;
    const head = this.heads[index];
    if (head === undefined) throw new GatewayError('INTERNAL', 'more parts written than planned');
    if (Buffer.isBuffer(body)) {
      if (body.length !== this.parts[index].length) throw new GatewayError('INTERNAL', 'a part body differs from its planned length');
      if (this.res.destroyed) throw new GatewayError('INTERNAL', 'the client went away');
      // Head and body in one writev; wait for drain only after uncorking, or it never comes.
      this.res.cork();
      this.res.write(head);
      const flowing = this.res.write(body);
      this.res.uncork();
      if (!flowing) await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
      return;
    }
    await this.write(head);
    let written = 0;
    for await (const chunk of body) {
      written += (chunk as Buffer).length;
      await this.write(chunk as Buffer);
    }
    if (written !== this.parts[index].length) throw new GatewayError('INTEGRITY_FAILURE', 'stored data is shorter or longer than recorded');
  }

  /** Writes the closing boundary and ends the response. */
  async end(): Promise<void> {
    if (this.next !== this.parts.length) throw new GatewayError('INTERNAL', 'fewer parts written than planned');
    this.res.end(this.closing());
  }

  private closing(): Buffer {
    return Buffer.from(`${this.parts.length === 0 ? '' : '\r\n'}--${this.boundary}--\r\n`, 'latin1');
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.res.destroyed) throw new GatewayError('INTERNAL', 'the client went away');
    if (!this.res.write(chunk)) await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
  }
}
