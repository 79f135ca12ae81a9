/**
 * JSON responses with their media type exactly as negotiated. Express appends `; charset=utf-8`
 * to the Content-Type of a string body, and `res.type`/`res.set` add it to any type they know
 * (`application/json`); JSON has no charset parameter (it is UTF-8, RFC 8259), and some DICOMweb
 * clients compare the media type exactly. The header is set as given and the body goes out as bytes.
 */
import type { Response } from 'express';

/** Sends `json` (already serialized) with status `status` and Content-Type exactly `type`. */
export function sendJsonText(res: Response, status: number, type: string, json: string): void {
  res.status(status).setHeader('Content-Type', type);
  res.send(Buffer.from(json, 'utf8'));
}
