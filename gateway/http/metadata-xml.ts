/**
 * WADO-RS metadata as `multipart/related; type="application/dicom+xml"` (PS3.18 §10.4.1.1.2,
 * §8.7.3.2): one part per instance, each the Native DICOM Model (PS3.19 Annex A) of the instance's
 * metadata exactly as the JSON representation gives it (absolute BulkDataURIs, the subject's
 * view), with the instance's URL as Content-Location.
 */
import type { Response } from 'express';
import { nativeDicomXml } from '../dicom/native-xml.js';
import type { DicomJson } from '../dicom/types.js';
import { MultipartWriter } from './multipart.js';

/** Sends the metadata of instances (their DICOM JSON and URL) as multipart dicom+xml. */
export async function sendMetadataXml(res: Response, instances: Array<{ json: DicomJson; url: string }>): Promise<void> {
  const bodies = instances.map(({ json }) => Buffer.from(nativeDicomXml(json), 'utf8'));
  const writer = new MultipartWriter(
    res,
    'application/dicom+xml',
    bodies.map((body, i) => ({ headers: { 'Content-Type': 'application/dicom+xml', 'Content-Length': String(body.length), 'Content-Location': instances[i].url }, length: body.length })),
  );
  res.status(200);
  for (const body of bodies) await writer.writePart(body);
  await writer.end();
}
