/**
 * Content negotiation for WADO-RS and QIDO-RS (PS3.18 §8.7.3-§8.7.5). The stored transfer syntax
 * is sent when the client takes it: by naming it, by `transfer-syntax=*`, or by the media type's
 * default (Explicit VR Little Endian) when the stored bytes are already in it. Otherwise Aegis
 * transcodes when it can (`dicom/transcodable.ts`: to Explicit or Implicit VR Little Endian) and
 * the client asked for that syntax or took the default. When nothing fits the answer is 406 with the
 * reason.
 */
import { transcodeTargets } from '../dicom/transcodable.js';
import { isEncapsulated } from '../dicom/transfer-syntax.js';
import { GatewayError } from '../errors.js';
import { covers, essence, param, parseAccept, type MediaRange } from './media-type.js';

/** Explicit VR Little Endian, the default transfer syntax of application/dicom and application/octet-stream. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Transfer syntaxes whose native pixel data bytes are those of Explicit VR Little Endian. */
const LITTLE_ENDIAN_NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99']);

/** How to answer a request for whole instances. */
export interface InstanceNegotiation {
  /** False only for a bare `application/dicom` request of a single instance. */
  multipart: boolean;
  /** Whether an instance stored in `transferSyntax` may be sent (as stored or transcoded). */
  acceptable(transferSyntax: string): boolean;
  /** The transfer syntax to send an instance stored in `stored` in: `stored` itself, a transcoding target, or undefined. */
  transferSyntaxFor(stored: string): string | undefined;
}

/** Negotiates a retrieve of whole instances (`application/dicom`). */
export function negotiateInstances(accept: string | undefined, singleInstance: boolean): InstanceNegotiation {
  const ranges = parseAccept(accept);
  const usable = ranges.filter((r) => instanceRangeKind(r, singleInstance) !== undefined);
  if (usable.length === 0) {
    throw new GatewayError('NOT_ACCEPTABLE', `cannot provide ${accept}: instances are available as multipart/related; type="application/dicom" (use transfer-syntax=* for the stored transfer syntax)`);
  }
  const transferSyntaxFor = (stored: string) => {
    for (const range of usable) {
      if (transferSyntaxFits(range, stored)) return stored;
      const wanted = param(range, 'transfer-syntax') ?? EXPLICIT_VR_LITTLE_ENDIAN;
      if (transcodeTargets(stored).includes(wanted)) return wanted;
    }
    return undefined;
  };
  return {
    multipart: instanceRangeKind(usable[0], singleInstance) !== 'single',
    acceptable: (ts) => transferSyntaxFor(ts) !== undefined,
    transferSyntaxFor,
  };
}

function instanceRangeKind(range: MediaRange, single: boolean): 'multipart' | 'single' | undefined {
  const type = essence(range);
  if (type === '*/*' || type === 'multipart/*') return 'multipart';
  if (type === 'multipart/related') {
    const inner = param(range, 'type');
    return inner === undefined || inner === 'application/dicom' || inner === '*/*' || inner === 'application/*' ? 'multipart' : undefined;
  }
  if (type === 'application/dicom' && single) return 'single';
  return undefined;
}

function transferSyntaxFits(range: MediaRange, stored: string): boolean {
  const type = essence(range);
  if (type === '*/*' || type === 'multipart/*') return true;
  const requested = param(range, 'transfer-syntax');
  if (requested === '*') return true;
  if (requested === undefined) return stored === EXPLICIT_VR_LITTLE_ENDIAN;
  return requested === stored;
}

/** How to answer a frames request: the Content-Type of each part. */
export interface FrameNegotiation {
  partContentType: string;
  multipart: boolean;
  /** The frames are stored compressed and are to be decoded (native little-endian bytes). */
  decode?: boolean;
}

/**
 * Negotiates a frames retrieve for an instance stored in `transferSyntax` whose frames have the
 * media type `frameMediaType` (application/octet-stream for native pixel data).
 */
export function negotiateFrames(accept: string | undefined, transferSyntax: string, frameMediaType: string, singleFrame: boolean): FrameNegotiation {
  const encapsulated = isEncapsulated(transferSyntax);
  for (const range of parseAccept(accept)) {
    const type = essence(range);
    let inner: string | undefined;
    let multipart = true;
    if (type === 'multipart/related') inner = param(range, 'type') ?? '*/*';
    else if (type === '*/*' || type === 'multipart/*') inner = '*/*';
    else if (singleFrame) {
      inner = type;
      multipart = false;
    } else continue;
    const requested = param(range, 'transfer-syntax');
    const innerRange = { type: inner.split('/')[0], subtype: inner.split('/')[1] ?? '', params: new Map(), q: 1 };
    if (!encapsulated) {
      if (!covers(innerRange, 'application/octet-stream')) continue;
      // Native little-endian pixel bytes are the same in every little-endian transfer syntax.
      const storedLabel = LITTLE_ENDIAN_NATIVE.has(transferSyntax) ? EXPLICIT_VR_LITTLE_ENDIAN : transferSyntax;
      const label = requested === '*' ? storedLabel : (requested ?? EXPLICIT_VR_LITTLE_ENDIAN);
      const fits = LITTLE_ENDIAN_NATIVE.has(transferSyntax) ? LITTLE_ENDIAN_NATIVE.has(label) : label === transferSyntax;
      if (fits) return { partContentType: `application/octet-stream; transfer-syntax=${label}`, multipart };
      continue;
    }
    const fits = requested === '*' || requested === transferSyntax || (requested === undefined && inner !== 'application/octet-stream');
    if (!fits) {
      // Decoded frames are native little-endian bytes, the same in Explicit and Implicit VR Little Endian.
      const label = requested ?? EXPLICIT_VR_LITTLE_ENDIAN;
      const decodable = transcodeTargets(transferSyntax).includes(EXPLICIT_VR_LITTLE_ENDIAN) && LITTLE_ENDIAN_NATIVE.has(label) && label !== '1.2.840.10008.1.2.1.99';
      if (decodable && covers(innerRange, 'application/octet-stream')) return { partContentType: `application/octet-stream; transfer-syntax=${label}`, multipart, decode: true };
      continue;
    }
    if (inner === 'application/octet-stream') return { partContentType: `application/octet-stream; transfer-syntax=${transferSyntax}`, multipart };
    if (covers(innerRange, frameMediaType)) return { partContentType: `${frameMediaType}; transfer-syntax=${transferSyntax}`, multipart };
  }
  throw new GatewayError(
    'NOT_ACCEPTABLE',
    `cannot provide the frames as ${accept ?? '*/*'}: they are stored as ${encapsulated ? frameMediaType : 'application/octet-stream'} in transfer syntax ${transferSyntax}; ${framesOffered(transferSyntax)}`,
  );
}

/** What the frames of an instance stored in `stored` are offered as, for reasons. */
function framesOffered(stored: string): string {
  const decoded = transcodeTargets(stored).includes(EXPLICIT_VR_LITTLE_ENDIAN) && isEncapsulated(stored);
  return `they are offered as stored (transfer-syntax=*)${decoded ? ` and decoded as application/octet-stream in ${EXPLICIT_VR_LITTLE_ENDIAN} or 1.2.840.10008.1.2` : ''}`;
}

/**
 * Negotiates a bulk data retrieve: multipart (default) or a bare application/octet-stream, and
 * whether the value is wanted as stored (`transfer-syntax=*` or the stored syntax) or in a named
 * or the default (Explicit VR Little Endian) transfer syntax, for pixel data stored compressed.
 */
export function negotiateBulkData(accept: string | undefined): { multipart: boolean; transferSyntax: string } {
  for (const range of parseAccept(accept)) {
    const type = essence(range);
    const transferSyntax = param(range, 'transfer-syntax') ?? (type === '*/*' || type === 'multipart/*' ? '*' : EXPLICIT_VR_LITTLE_ENDIAN);
    if (type === '*/*' || type === 'multipart/*') return { multipart: true, transferSyntax };
    if (type === 'multipart/related') {
      const inner = param(range, 'type');
      if (inner === undefined || inner === 'application/octet-stream' || inner === '*/*') return { multipart: true, transferSyntax };
    }
    if (type === 'application/octet-stream') return { multipart: false, transferSyntax };
  }
  throw new GatewayError('NOT_ACCEPTABLE', `cannot provide bulk data as ${accept}: it is available as multipart/related; type="application/octet-stream"`);
}

/** Negotiates a DICOM JSON response (QIDO-RS results, metadata); returns the Content-Type to send. */
export function negotiateJson(accept: string | undefined): string {
  for (const range of parseAccept(accept)) {
    if (covers(range, 'application/dicom+json')) return 'application/dicom+json';
    if (covers(range, 'application/json')) return 'application/json';
  }
  throw new GatewayError('NOT_ACCEPTABLE', `cannot provide ${accept}: this resource is available as application/dicom+json`);
}
