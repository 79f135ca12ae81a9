/**
 * multipart/related bodies (RFC 2387, PS3.18 §8.6.1.2): building a STOW-RS request and reading the
 * parts of a WADO-RS response. Independent of any server's code: the boundary is read from the
 * Content-Type (quoted or not), parts are split on CRLF--boundary, and each part's headers are
 * parsed as RFC 822 headers.
 */
import { randomBytes } from 'node:crypto';

/** One part of a multipart body. */
export interface Part {
  /** Header names in lower case. */
  headers: Record<string, string>;
  bytes: Buffer;
}

/** A multipart/related request body of DICOM instances and its Content-Type. */
export function stowBody(instances: Uint8Array[], boundary = `conformance-${randomBytes(12).toString('hex')}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const bytes of instances) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(bytes), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** The boundary parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : undefined;
}

/** The parts of a multipart body; throws when the body is not a well-formed multipart of `contentType`. */
export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw new Error(`no boundary in Content-Type '${contentType}'`);
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) throw new Error('the body has no boundary delimiter');
  const parts: Part[] = [];
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') return parts;
    if (body.subarray(at, at + 2).toString() !== '\r\n') throw new Error('a boundary delimiter is not followed by CRLF');
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), at);
    if (next < 0) throw new Error('the body ends without its close delimiter');
    parts.push(parsePart(body.subarray(at + 2, next)));
    at = next + 2;
  }
}

function parsePart(raw: Buffer): Part {
  if (raw.subarray(0, 2).toString() === '\r\n') return { headers: {}, bytes: Buffer.from(raw.subarray(2)) };
  const end = raw.indexOf('\r\n\r\n');
  const headerText = end < 0 ? raw.toString('latin1') : raw.subarray(0, end).toString('latin1');
  const headers: Record<string, string> = {};
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, bytes: end < 0 ? Buffer.alloc(0) : Buffer.from(raw.subarray(end + 4)) };
}
