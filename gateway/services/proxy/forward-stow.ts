/**
 * `upstream.forwardStow` of proxy mode: a plain copy of each instance stored through Aegis is also
 * sent to the upstream PACS (STOW-RS, PS3.18 §10.5, one instance per request), for sites that keep
 * the PACS as their primary archive during a transition. The copy is sent only after the protected
 * store succeeded; a copy the upstream does not take is a warning of the STOW-RS response, never a
 * lost store. The upstream's answer body is not passed on.
 */
import { randomBytes } from 'node:crypto';
import { isGatewayError } from '../../errors.js';
import type { UpstreamClient } from './upstream-client.js';

/**
 * Sends `bytes` (one Part 10 instance) to the upstream; resolves to undefined when it was taken,
 * else to the warning for the STOW-RS response. Never throws.
 */
export async function forwardInstance(upstream: UpstreamClient, bytes: Uint8Array, sopInstanceUid: string): Promise<string | undefined> {
  const boundary = `aegis-${randomBytes(16).toString('hex')}`;
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  try {
    const answer = await upstream.request('/studies', { method: 'POST', accept: 'application/dicom+json', contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`, body });
    answer.body.resume();
    if (answer.status === 200) return undefined;
    return `instance ${sopInstanceUid} is stored in Aegis, but the upstream PACS took its copy only in part (HTTP ${answer.status})`;
  } catch (error) {
    const reason = isGatewayError(error) ? error.message : 'the exchange failed';
    return `instance ${sopInstanceUid} is stored in Aegis, but its copy was not forwarded to the upstream PACS (${reason})`;
  }
}
