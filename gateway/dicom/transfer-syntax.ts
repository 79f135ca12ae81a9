/**
 * The transfer syntaxes of DICOM PS3.5 §10 and Annex A (registry: PS3.6 Annex A), with what the
 * gateway needs to know about each: how the data set is encoded (explicit or implicit VR, byte
 * order, deflate) and, for encapsulated pixel data (PS3.5 A.4), the media type of one frame as
 * PS3.18 §8.7.3 (Table 8.7.3-2, "Rendered Media Types" for bulk/frames) names it.
 */

/** What one transfer syntax means for the bytes of an instance. */
export interface TransferSyntax {
  uid: string;
  name: string;
  /** Value Representations are written in the data set (all but Implicit VR Little Endian). */
  explicitVR: boolean;
  /** Byte order of the data set (only Explicit VR Big Endian is big endian). */
  littleEndian: boolean;
  /** The data set after the meta header is deflated (RFC 1951, no zlib header). */
  deflated: boolean;
  /** Pixel Data is encapsulated (PS3.5 A.4): a sequence of fragments, undefined length. */
  encapsulated: boolean;
  /** The media type of one frame (encapsulated) or `application/octet-stream` (native). */
  mediaType: string;
}

/** Implicit VR Little Endian, the default transfer syntax of DICOM. */
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** Explicit VR Little Endian. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Deflated Explicit VR Little Endian: the data set after the meta header is raw-deflated. */
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
/** Explicit VR Big Endian (retired, still met in archives). */
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

const OCTET_STREAM = 'application/octet-stream';

type Row = [uid: string, name: string, encapsulated: boolean, mediaType?: string];

/** PS3.6 Table A-1, the transfer syntax rows. Native ones first, then encapsulated ones. */
const ROWS: Row[] = [
  ['1.2.840.10008.1.2', 'Implicit VR Little Endian', false],
  ['1.2.840.10008.1.2.1', 'Explicit VR Little Endian', false],
  ['1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', false],
  ['1.2.840.10008.1.2.2', 'Explicit VR Big Endian (Retired)', false],
  ['1.2.840.10008.1.2.4.94', 'JPIP Referenced', false],
  ['1.2.840.10008.1.2.4.95', 'JPIP Referenced Deflate', false],
  ['1.2.840.10008.1.2.4.204', 'JPIP HTJ2K Referenced', false],
  ['1.2.840.10008.1.2.4.205', 'JPIP HTJ2K Referenced Deflate', false],
  ['1.2.840.10008.1.2.7.1', 'SMPTE ST 2110-20 Uncompressed Progressive Active Video', false],
  ['1.2.840.10008.1.2.7.2', 'SMPTE ST 2110-20 Uncompressed Interlaced Active Video', false],
  ['1.2.840.10008.1.2.7.3', 'SMPTE ST 2110-30 PCM Digital Audio', false],
  ['1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian', true, OCTET_STREAM],
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.52', 'JPEG Extended (Process 3 & 5) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.53', 'JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.54', 'JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.55', 'JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.56', 'JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.58', 'JPEG Lossless, Non-Hierarchical (Process 15) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.59', 'JPEG Extended, Hierarchical (Process 16 & 18) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.60', 'JPEG Extended, Hierarchical (Process 17 & 19) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.61', 'JPEG Spectral Selection, Hierarchical (Process 20 & 22) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.62', 'JPEG Spectral Selection, Hierarchical (Process 21 & 23) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.63', 'JPEG Full Progression, Hierarchical (Process 24 & 26) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.64', 'JPEG Full Progression, Hierarchical (Process 25 & 27) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.65', 'JPEG Lossless, Hierarchical (Process 28) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.66', 'JPEG Lossless, Hierarchical (Process 29) (Retired)', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])', true, 'image/jpeg'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless Image Compression', true, 'image/jls'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless) Image Compression', true, 'image/jls'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 Image Compression (Lossless Only)', true, 'image/jp2'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000 Image Compression', true, 'image/jp2'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)', true, 'image/jpx'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component Image Compression', true, 'image/jpx'],
  ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level', true, 'video/mpeg'],
  ['1.2.840.10008.1.2.4.100.1', 'Fragmentable MPEG2 Main Profile / Main Level', true, 'video/mpeg'],
  ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level', true, 'video/mpeg'],
  ['1.2.840.10008.1.2.4.101.1', 'Fragmentable MPEG2 Main Profile / High Level', true, 'video/mpeg'],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.102.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.103.1', 'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.104.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.105.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.106.1', 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', true, 'video/mp4'],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1', true, 'video/H265'],
  ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1', true, 'video/H265'],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL Lossless', true, 'image/jxl'],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression', true, 'image/jxl'],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL', true, 'image/jxl'],
  ['1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 Image Compression (Lossless Only)', true, 'image/jphc'],
  ['1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)', true, 'image/jphc'],
  ['1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000 Image Compression', true, 'image/jphc'],
  ['1.2.840.10008.1.2.5', 'RLE Lossless', true, 'image/dicom-rle'],
  ['1.2.840.10008.1.2.8.1', 'Deflated Image Frame Compression', true, OCTET_STREAM],
];

const BY_UID: ReadonlyMap<string, TransferSyntax> = new Map(
  ROWS.map(([uid, name, encapsulated, mediaType]) => [
    uid,
    Object.freeze({
      uid,
      name,
      explicitVR: uid !== IMPLICIT_VR_LITTLE_ENDIAN,
      littleEndian: uid !== EXPLICIT_VR_BIG_ENDIAN,
      deflated: uid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
      encapsulated,
      mediaType: mediaType ?? OCTET_STREAM,
    }),
  ]),
);

/**
 * The description of a transfer syntax. Unknown UIDs are described as PS3.5 §10 requires
 * of any transfer syntax other than the three "native" ones: explicit VR little endian, and
 * encapsulated (the parser checks the Pixel Data length to be sure), with
 * `application/octet-stream` frames.
 */
export function transferSyntax(uid: string): TransferSyntax {
  return (
    BY_UID.get(uid) ?? {
      uid,
      name: `Unknown transfer syntax ${uid}`,
      explicitVR: true,
      littleEndian: true,
      deflated: false,
      encapsulated: true,
      mediaType: OCTET_STREAM,
    }
  );
}

/** True when `uid` is listed in PS3.6 Table A-1 (as known to this gateway). */
export function isKnownTransferSyntax(uid: string): boolean {
  return BY_UID.has(uid);
}

/** True when the Pixel Data of this transfer syntax is encapsulated (compressed, fragments). */
export function isEncapsulated(uid: string): boolean {
  return transferSyntax(uid).encapsulated;
}

/** The media type of one frame for this transfer syntax (`application/octet-stream` if native or unknown). */
export function frameMediaType(uid: string): string {
  return transferSyntax(uid).mediaType;
}

/** All known transfer syntaxes, in registry order. */
export function knownTransferSyntaxes(): TransferSyntax[] {
  return [...BY_UID.values()];
}
