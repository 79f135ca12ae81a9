/**
 * Content negotiation of WADO-RS metadata (PS3.18 §10.4.1.1.2, Table 8.7.3-2): the DICOM JSON
 * Model (`application/dicom+json`, the default) or the Native DICOM Model of PS3.19, one part per
 * instance (`multipart/related; type="application/dicom+xml"`). Any other media type is 406.
 */
import { GatewayError } from '../errors.js';
import { covers, essence, param, parseAccept } from './media-type.js';

/** How to answer a metadata request: JSON with its Content-Type, or multipart XML. */
export type MetadataRepresentation = { kind: 'json'; contentType: string } | { kind: 'xml' };

/** The representation the client prefers of those Aegis serves (ranges in the order of their q-values). */
export function negotiateMetadata(accept: string | undefined): MetadataRepresentation {
  for (const range of parseAccept(accept)) {
    if (covers(range, 'application/dicom+json')) return { kind: 'json', contentType: 'application/dicom+json' };
    if (covers(range, 'application/json')) return { kind: 'json', contentType: 'application/json' };
    if (essence(range) === 'multipart/related' && param(range, 'type') === 'application/dicom+xml') return { kind: 'xml' };
  }
  throw new GatewayError('NOT_ACCEPTABLE', `cannot provide ${accept}: metadata is available as application/dicom+json or multipart/related; type="application/dicom+xml"`);
}
