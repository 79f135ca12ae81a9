/**
 * multipart/related bodies (RFC 2387) as DICOMweb uses them (PS3.18 §8.6.1.2): reading STOW-RS
 * requests part by part with limits, and writing WADO-RS responses with a random boundary,
 * streamed with back-pressure. Reading uses @remix-run/multipart-parser.
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
  parseMultipartStream,
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

/**
 * Yields the parts of a multipart request as they complete. Throws MALFORMED_MULTIPART for a body
 * that cannot be parsed (including one that ends before its closing boundary) and
 * PAYLOAD_TOO_LARGE when a limit is exceeded.
 */
export async function* readMultipart(req: IncomingMessage, boundary: string, limits: MultipartLimits): AsyncGenerator<RequestPart> {
  const parts = parseMultipartStream(req, {
    boundary,
    maxHeaderSize: 16 * 1024,
    maxFileSize: limits.maxPartBytes,
    maxParts: limits.maxParts,
    maxTotalSize: limits.maxBodyBytes,
  });
  try {
    for await (const part of parts) {
      const bytes = part.content.length === 1 ? Buffer.from(part.content[0].buffer, part.content[0].byteOffset, part.content[0].byteLength) : Buffer.concat(part.content);
      yield { contentType: part.headers['content-type'], bytes };
    }
  } catch (error) {
    throw translateParseError(error);
  }
}

function translateParseError(error: unknown): unknown {
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
