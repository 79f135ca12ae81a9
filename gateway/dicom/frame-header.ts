/**
 * The image size a compressed frame declares in its own header, checked against the instance's
 * Rows and Columns before any decoder runs. The decoders (libjpeg-turbo, CharLS, OpenJPEG and
 * OpenJPH, built to WebAssembly) size their output from the codestream, not from the data set: a
 * few kilobytes of JPEG claiming 16384 x 16384 pixels would make a decoder allocate and fill
 * gigabytes, synchronously, in the gateway's process, and the result would then be read with the
 * instance's geometry (wrong pixels). The headers read here: the SOF segment of JPEG (ISO/IEC
 * 10918-1 B.2.2) and JPEG-LS (ISO/IEC 14495-1 C.2.2, SOF55), and the SIZ segment of a JPEG 2000
 * or HTJ2K codestream (ISO/IEC 15444-1 A.5.1), raw or inside a JP2 file. RLE Lossless
 * (PS3.5 Annex G) declares no size: its decoder writes the data set's.
 */

/** The size a frame's codestream declares. */
export interface DeclaredSize {
  rows: number;
  columns: number;
}

/** The kind of header each frame media type (PS3.18 Table 8.7.3-2) carries. */
const HEADER_OF: Readonly<Record<string, 'jpeg' | 'j2k'>> = Object.freeze({
  'image/jpeg': 'jpeg',
  'image/jls': 'jpeg',
  'image/jp2': 'j2k',
  'image/jpx': 'j2k',
  'image/jphc': 'j2k',
});

/** The JPEG markers that start a frame header: SOF0-3, 5-7, 9-11, 13-15, and SOF55 of JPEG-LS. */
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xf7]);

/**
 * Why the first fragment of a frame (`encoded`, of media type `mediaType`) cannot be decoded as
 * `expected`: its header declares another size, or it has no header where its format needs one.
 * Undefined when the sizes agree, or when the format declares no size (RLE, native).
 */
export function frameSizeProblem(mediaType: string, encoded: Uint8Array, expected: DeclaredSize): string | undefined {
  const kind = HEADER_OF[mediaType];
  if (kind === undefined) return undefined;
  const declared = kind === 'jpeg' ? jpegSize(encoded) : j2kSize(encoded);
  if (declared === undefined) return `the frame has no ${kind === 'jpeg' ? 'JPEG frame header (SOF)' : 'JPEG 2000 image header (SIZ)'} to decode it by`;
  if (declared.rows === expected.rows && declared.columns === expected.columns) return undefined;
  return `the frame's codestream declares ${declared.columns} x ${declared.rows} pixels, the instance's Columns and Rows ${expected.columns} x ${expected.rows}`;
}

/** The size in the first SOF segment of a JPEG or JPEG-LS codestream, walking its marker segments up to the first scan. */
function jpegSize(bytes: Uint8Array): DeclaredSize | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at += 1; // a fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // a scan or the end before any frame header
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (SOF_MARKERS.has(marker)) {
      if (length < 8 || at + 9 > bytes.length) return undefined;
      return { rows: (bytes[at + 5] << 8) | bytes[at + 6], columns: (bytes[at + 7] << 8) | bytes[at + 8] };
    }
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/** The image area of the SIZ segment of a JPEG 2000 codestream (SOC then SIZ), raw or in a JP2 file's contiguous codestream box. */
function j2kSize(bytes: Uint8Array): DeclaredSize | undefined {
  const start = codestreamStart(bytes);
  if (start === undefined || start + 22 > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, bytes.length - start);
  if (view.getUint16(0) !== 0xff4f || view.getUint16(2) !== 0xff51) return undefined;
  // SIZ: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz (after SOC and the SIZ marker).
  const [xsiz, ysiz, xosiz, yosiz] = [view.getUint32(8), view.getUint32(12), view.getUint32(16), view.getUint32(20)];
  if (xosiz > xsiz || yosiz > ysiz) return undefined;
  return { rows: ysiz - yosiz, columns: xsiz - xosiz };
}

/** Where the codestream starts: at 0 for a raw codestream, else after the header of a JP2 file's `jp2c` box. */
function codestreamStart(bytes: Uint8Array): number | undefined {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0x4f) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    let header = 8;
    if (size === 1) {
      if (at + 16 > bytes.length) return undefined;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    }
    if (type === 'jp2c') return at + header;
    if (size === 0 || size < header) return undefined; // the last box, or a malformed one, before any codestream
    at += size;
  }
  return undefined;
}
