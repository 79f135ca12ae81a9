/**
 * multipart/related bodies (RFC 2387) as DICOMweb uses them (PS3.18 §8.6.1.2): reading STOW-RS
 * requests part by part with limits, and writing WADO-RS responses with a random boundary,
 * streamed with back-pressure. Reading drives @remix-run/multipart-parser's streaming parser.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import {
  MaxFileSizeExceededError,
  MaxHeaderSizeExceededError,
  MaxPartsExceededError,
  MaxTotalSizeExceededError,
  MultipartParseError,
  MultipartParser,
  type MultipartPart,
} from '@remix-run/multipart-parser/node';
import { GatewayError } from '../errors.js';

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

/** Writes a multipart/related response part by part, honouring back-pressure. */
export class MultipartWriter {
  readonly boundary = newBoundary();
  private parts = 0;

  constructor(private readonly res: ServerResponse, type: string) {
    res.setHeader('Content-Type', `multipart/related; type="${type}"; boundary=${this.boundary}`);
  }

  /** Writes one part whose body is a buffer or a stream. */
  async writePart(headers: Record<string, string>, body: Buffer | Readable): Promise<void> {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    await this.write(Buffer.from(`${this.parts++ === 0 ? '' : '\r\n'}--${this.boundary}\r\n${head}\r\n`));
    if (Buffer.isBuffer(body)) await this.write(body);
    else for await (const chunk of body) await this.write(chunk as Buffer);
  }

  /** Writes the closing boundary and ends the response. */
  async end(): Promise<void> {
    this.res.end(`${this.parts === 0 ? '' : '\r\n'}--${this.boundary}--\r\n`);
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.res.destroyed) throw new GatewayError('INTERNAL', 'the client went away');
    if (!this.res.write(chunk)) await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
  }
}
