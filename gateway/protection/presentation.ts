/**
 * What a PACS that holds a fragment shows of the instance: a derived DICOM instance it can index
 * and display, with nothing of the patient and nothing of the image but its background. The
 * identity is replaced by the Basic Application Level Confidentiality Profile (PS3.15 Annex E) with
 * every UID replaced under a fresh random key (so the PACS's UIDs link to neither the originals nor
 * to each other), and the Pixel Data value is the background view of {@link ProtectedInstance}:
 * region 0's pixels, watermarked, every other pixel zero. The sealed region-0 fragment is then put
 * into it by the `dicomweb` adapter; the presentation alone restores nothing.
 */
import { randomBytes } from 'node:crypto';
import { deidentifyInstance } from '../deidentify/deidentify.js';
import { parseInstance } from '../dicom/parse.js';
import type { ParsedInstance } from '../dicom/types.js';
import { isGatewayError } from '../errors.js';
import type { ProtectedInstance } from './protect.js';

/** Implicit and Explicit VR Little Endian. */
const LITTLE_ENDIAN = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

/**
 * The presentation of an instance for a PACS, or undefined when there is none to show: no
 * background view (pixels not segmented), or an instance the de-identifier refuses (then the
 * fragment goes into the adapter's plain container, which shows nothing at all).
 */
export function pacsPresentation(bytes: Uint8Array, parsed: ParsedInstance, background: ProtectedInstance['background']): Uint8Array | undefined {
  // Native little endian only: what the adapter writes its block into (explicit VR Little Endian).
  if (background === undefined || parsed.deflated || !LITTLE_ENDIAN.has(parsed.transferSyntaxUID)) return undefined;
  let derived: Uint8Array;
  try {
    derived = deidentifyInstance(bytes, { profile: 'basic', retainUids: false, key: randomBytes(32) }).bytes;
  } catch (error) {
    if (isGatewayError(error)) return undefined;
    throw error;
  }
  const layout = parseInstance(derived).pixelData;
  if (layout === undefined || layout.encapsulated || layout.offset + background.length > derived.length) return undefined;
  const out = Uint8Array.from(derived);
  out.set(background, layout.offset);
  return out;
}
