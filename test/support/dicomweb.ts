/**
 * A tiny DICOMweb client for tests: builds STOW-RS bodies, reads multipart responses (with the
 * project's multipart parser dependency, independent of the gateway's code) and fetches JSON.
 */
import { randomBytes } from 'node:crypto';
import { parseMultipart } from '@remix-run/multipart-parser/node';

/** A STOW-RS request body with its Content-Type. */
export function stowBody(parts: Array<Uint8Array | { bytes: Uint8Array; contentType?: string }>, boundary = `test-${randomBytes(8).toString('hex')}`) {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const { bytes, contentType } = part instanceof Uint8Array ? { bytes: part, contentType: 'application/dicom' } : part;
    chunks.push(Buffer.from(`--${boundary}\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}\r\n`), Buffer.from(bytes), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`, boundary };
}

/** POSTs instances to `/studies` (or `/studies/{study}`); returns status, headers and JSON body. */
export async function stow(dicomWebUrl: string, instances: Uint8Array[], study?: string) {
  const { body, contentType } = stowBody(instances);
  const res = await fetch(`${dicomWebUrl}/studies${study ? `/${study}` : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/** One part of a multipart response. */
export interface ResponsePart {
  headers: Record<string, string | undefined>;
  bytes: Buffer;
}

/** Splits a multipart response body into its parts using the boundary of `contentType`. */
export function multipartParts(body: Buffer, contentType: string): ResponsePart[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!match) throw new Error(`no boundary in ${contentType}`);
  const parts: ResponsePart[] = [];
  for (const part of parseMultipart(body, { boundary: match[1] ?? match[2], maxFileSize: 1 << 30, maxTotalSize: 1 << 30 })) {
    const headers: Record<string, string | undefined> = {};
    for (const name of ['content-type', 'content-location', 'content-length']) headers[name] = part.headers[name];
    parts.push({ headers, bytes: Buffer.from(part.bytes) });
  }
  return parts;
}

/** GETs a URL with an Accept header; returns status, headers and the body bytes. */
export async function get(url: string, accept?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers: accept ? { ...headers, Accept: accept } : headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Retrieves instances as stored (`transfer-syntax=*`) and returns the parts; `headers` such as Authorization go along. */
export async function retrieveAsStored(url: string, headers: Record<string, string> = {}) {
  const res = await get(url, 'multipart/related; type="application/dicom"; transfer-syntax=*', headers);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
  return multipartParts(res.body, res.headers.get('content-type')!);
}

/** The first value of an attribute in a DICOM JSON object. */
export function value(dataset: Record<string, any>, tag: string): any {
  return dataset?.[tag]?.Value?.[0];
}
