/**
 * The few DICOMweb (PS3.18) transactions the `dicomweb` backend makes, over `fetch`: STOW-RS to
 * store one instance, WADO-RS with `transfer-syntax=*` to read it back as stored (byte-exact, no
 * transcoding), QIDO-RS to ask whether it exists, and a delete: Orthanc's REST API
 * (`POST /tools/lookup` on the SOP Instance UID, then `DELETE /instances/{id}`) when `orthancUrl`
 * is configured, otherwise `DELETE` on the instance's DICOMweb URL, which some servers accept (it
 * is no part of PS3.18; a server that refuses it answers UNSUPPORTED).
 *
 * Statuses are translated here: 404 -> NOT_FOUND, any other failure -> BACKEND_UNAVAILABLE with
 * the status and the start of the answer; a refused or broken connection -> BACKEND_UNAVAILABLE.
 */
import { randomBytes } from 'node:crypto';
import { parseMultipart } from '@remix-run/multipart-parser/node';
import { FragmentStoreError } from '../fragment-store.js';
import type { InstanceUids } from './fragment-instance.js';

/** Where the server is, and how to authenticate to it. */
export interface DicomwebEndpoints {
  /** The DICOMweb root, e.g. `http://pacs:8042/dicom-web` (no trailing slash needed). */
  url: string;
  /** Orthanc's REST root, e.g. `http://pacs:8042`, for deletes; absent: DICOMweb DELETE. */
  orthancUrl?: string;
  /** The value of the `Authorization` header of every request, when the server wants one. */
  authorization?: string;
}

/** The Accept header that makes WADO-RS send the instance as stored. */
const AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
/** A larger instance from the server is refused (a fragment never grows this big). */
const MAX_INSTANCE_BYTES = 2 ** 31;

/** The DICOMweb transactions of one server. */
export class DicomwebClient {
  private readonly root: string;
  private readonly orthanc: string | undefined;
  private readonly authorization: string | undefined;

  constructor(endpoints: DicomwebEndpoints) {
    this.root = endpoints.url.replace(/\/+$/, '');
    this.orthanc = endpoints.orthancUrl?.replace(/\/+$/, '');
    this.authorization = endpoints.authorization;
  }

  /** STOW-RS of one Part 10 instance; resolves once the server lists it as stored. */
  async store(instance: Uint8Array, uids: InstanceUids, signal: AbortSignal): Promise<void> {
    const boundary = `aegis-${randomBytes(16).toString('hex')}`;
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), instance, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const response = await this.request(`${this.root}/studies`, {
      method: 'POST',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json' },
      body,
      signal,
    });
    const text = await response.text();
    if (!response.ok) throw answerError(response.status, text, 'STOW-RS');
    if (!storedIn(text, uids.instance)) throw new FragmentStoreError('BACKEND_UNAVAILABLE', `STOW-RS did not store instance ${uids.instance}: ${text.slice(0, 300)}`);
  }

  /** WADO-RS of one instance as stored: its Part 10 bytes; NOT_FOUND when the server has none. */
  async retrieve(uids: InstanceUids, signal: AbortSignal): Promise<Uint8Array> {
    const response = await this.request(this.instanceUrl(uids), { headers: { Accept: AS_STORED }, signal });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (!response.ok) throw answerError(response.status, Buffer.from(bytes.subarray(0, 300)).toString(), 'WADO-RS');
    const type = response.headers.get('content-type') ?? '';
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
    if (boundary === null) throw new FragmentStoreError('BACKEND_UNAVAILABLE', `WADO-RS answered ${type || 'no Content-Type'}, not multipart`);
    for (const part of parseMultipart(bytes, { boundary: boundary[1] ?? boundary[2], maxFileSize: MAX_INSTANCE_BYTES, maxTotalSize: MAX_INSTANCE_BYTES })) return part.bytes;
    throw new FragmentStoreError('NOT_FOUND', `WADO-RS answered no instance ${uids.instance}`);
  }

  /** QIDO-RS: true when the server has the instance. */
  async exists(uids: InstanceUids, signal: AbortSignal): Promise<boolean> {
    const url = `${this.root}/studies/${uids.study}/series/${uids.series}/instances?SOPInstanceUID=${uids.instance}`;
    const response = await this.request(url, { headers: { Accept: 'application/dicom+json' }, signal });
    const text = await response.text();
    if (response.status === 204 || response.status === 404) return false;
    if (!response.ok) throw answerError(response.status, text, 'QIDO-RS');
    return storedIn(text, uids.instance, '00080018');
  }

  /** Deletes the instance; false when the server had none. */
  async remove(uids: InstanceUids, signal: AbortSignal): Promise<boolean> {
    if (this.orthanc === undefined) {
      const response = await this.request(this.instanceUrl(uids), { method: 'DELETE', signal });
      const text = await response.text();
      if (response.status === 404) return false;
      if (response.status === 405 || response.status === 501) throw new FragmentStoreError('UNSUPPORTED', `the server refuses DICOMweb DELETE (${response.status}); configure orthancUrl for an Orthanc`);
      if (!response.ok) throw answerError(response.status, text, 'DELETE');
      return true;
    }
    const lookup = await this.request(`${this.orthanc}/tools/lookup`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: uids.instance, signal });
    const text = await lookup.text();
    if (!lookup.ok) throw answerError(lookup.status, text, 'Orthanc lookup');
    const found = (JSON.parse(text) as Array<{ ID?: string; Type?: string }>).filter((r) => r.Type === 'Instance' && typeof r.ID === 'string' && /^[0-9a-f-]+$/.test(r.ID));
    let removed = false;
    for (const { ID } of found) {
      const response = await this.request(`${this.orthanc}/instances/${ID}`, { method: 'DELETE', signal });
      const answer = await response.text();
      if (response.ok) removed = true;
      else if (response.status !== 404) throw answerError(response.status, answer, 'Orthanc delete');
    }
    return removed;
  }

  /** Resolves when the server answers a QIDO-RS search. */
  async ping(signal: AbortSignal): Promise<void> {
    const response = await this.request(`${this.root}/studies?limit=1`, { headers: { Accept: 'application/dicom+json' }, signal });
    const text = await response.text();
    if (!response.ok) throw answerError(response.status, text, 'QIDO-RS');
  }

  private instanceUrl(uids: InstanceUids): string {
    return `${this.root}/studies/${uids.study}/series/${uids.series}/instances/${uids.instance}`;
  }

  private request(url: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    const headers = this.authorization === undefined ? init.headers : { ...init.headers, Authorization: this.authorization };
    return fetch(url, { ...init, headers, redirect: 'error' });
  }
}

/** True when a DICOM JSON answer names `sopInstanceUid` (in a ReferencedSOPSequence item, or at `tag`). */
function storedIn(text: string, sopInstanceUid: string, tag?: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  const first = (item: unknown, t: string): unknown => (item as Record<string, { Value?: unknown[] }> | undefined)?.[t]?.Value?.[0];
  if (tag !== undefined) return Array.isArray(json) && json.some((item) => first(item, tag) === sopInstanceUid);
  const referenced = (json as Record<string, { Value?: unknown[] }> | null)?.['00081199']?.Value ?? [];
  return referenced.some((item) => first(item, '00081155') === sopInstanceUid);
}

/** The error of a status the server answered. */
function answerError(status: number, text: string, what: string): FragmentStoreError {
  const detail = `${what} answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  return new FragmentStoreError(status === 404 ? 'NOT_FOUND' : 'BACKEND_UNAVAILABLE', detail);
}
