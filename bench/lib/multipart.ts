/**
 * multipart/related bodies (PS3.18 8.6.1.2 / RFC 2387) as the benchmark client sends and reads
 * them: building a STOW-RS request from instance buffers without copying them, and splitting a
 * WADO-RS response into its parts using the boundary of the Content-Type header (quoted or not).
 */
import { randomBytes } from 'node:crypto';

/** A STOW-RS request body as chunks plus its Content-Type, with a random boundary. */
export function stowBody(instances: readonly Buffer[]): { contentType: string; chunks: Buffer[]; bytes: number } {
  const boundary = `aegis-bench-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const instance of instances) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${instance.length}\r\n\r\n`, 'latin1'));
    chunks.push(instance);
    chunks.push(Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return {
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
    chunks,
    bytes: chunks.reduce((n, c) => n + c.length, 0),
  };
}

/** The boundary parameter of a multipart Content-Type, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\/related\b/i.test(contentType)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

/** One part of a multipart body. */
export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits a multipart body into parts; throws if the framing is broken. Bodies are views, not copies. */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new Error('multipart: no opening boundary');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing delimiter
    const headerStart = body.indexOf('\r\n', pos, 'latin1') + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart - 2, 'latin1');
    if (headerStart < 2 || headerEnd < 0) throw new Error('multipart: truncated part headers');
    const headers: Record<string, string> = {};
    for (const line of body.toString('latin1', headerStart, headerEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = headerEnd + 4;
    // Content-Length, when present, lets us skip scanning large bodies for the delimiter.
    const declared = headers['content-length'] !== undefined ? Number(headers['content-length']) : NaN;
    let end: number;
    if (Number.isInteger(declared) && body.subarray(start + declared, start + declared + 2 + delimiter.length).equals(Buffer.concat([Buffer.from('\r\n'), delimiter]))) {
      end = start + declared;
    } else {
      end = body.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), delimiter]), start);
      if (end < 0) throw new Error('multipart: missing boundary after a part');
    }
    parts.push({ headers, body: body.subarray(start, end) });
    pos = end + 2;
  }
}
