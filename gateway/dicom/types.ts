/**
 * Types of the byte-level DICOM model (PS3.10 Part 10 files, PS3.5 data sets, PS3.18 F.2 JSON).
 * Everything in `gateway/dicom/` is pure: bytes in, descriptions out, no I/O.
 */

/** One attribute in the DICOM JSON model (PS3.18 F.2). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

/** A data set in the DICOM JSON model: tag (8 upper-case hex digits) to attribute. */
export type DicomJson = Record<string, DicomJsonAttribute>;

/**
 * Where one bulk data value lies in the instance.
 * `path` names it in a bulkdata URI: the tag, and for values nested in sequences the
 * sequence tag, the item index (0-based) and so on, joined by '/': `7FE00010`,
 * `00540016/0/00181079`.
 */
export interface BulkDataLocation {
  path: string;
  vr: string;
  /** Offset of the value in the dataset bytes (see {@link ParsedInstance.deflated}). */
  offset: number;
  length: number;
}

/** One frame of encapsulated pixel data: the fragments (offset, length) that make it up, in order. */
export type EncapsulatedFrame = Array<[offset: number, length: number]>;

/** Where the frames of the pixel data lie. */
export type PixelDataLayout =
  | {
      encapsulated: false;
      /** Offset of the first byte of the Pixel Data value. */
      offset: number;
      /** Bytes of one frame (Rows x Columns x SamplesPerPixel x BitsAllocated / 8; BitsAllocated 1: bits packed). */
      frameLength: number;
      numberOfFrames: number;
      /** Pixel data bytes are big endian (Explicit VR Big Endian): frames are returned as stored. */
      bigEndian: boolean;
      /**
       * Only for BitsAllocated 1: the bits of one frame. Such frames are bit-packed back to back
       * (PS3.5 §8.1.1), so frame i starts at bit i x bitsPerFrame, on a byte boundary only when
       * bitsPerFrame is a multiple of 8; `frameLength` is then ceil(bitsPerFrame / 8) and the whole
       * value holds ceil(bitsPerFrame x numberOfFrames / 8) bytes.
       */
      bitsPerFrame?: number;
    }
  | {
      encapsulated: true;
      frames: EncapsulatedFrame[];
      /** The media type of one frame for this transfer syntax (image/jpeg, image/jp2, image/jls, image/dicom-rle, ...). */
      mediaType: string;
    };

/** Everything the gateway needs to know about a received instance, found without re-serializing it. */
export interface ParsedInstance {
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  /** Empty string when the data set has none (the store service rejects such an instance). */
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /**
   * The data set (without group 0002) in the DICOM JSON model. Bulk data values carry a
   * `BulkDataURI` relative to the instance: `bulkdata/{path}`; the HTTP layer prefixes the
   * instance's absolute URL when it serves metadata.
   */
  metadata: DicomJson;
  bulkData: BulkDataLocation[];
  pixelData?: PixelDataLayout;
  /**
   * Deflated Explicit VR Little Endian: the offsets of `bulkData` and `pixelData` refer to the
   * bytes returned by `datasetView(bytes)`, the inflated form; otherwise to the instance bytes.
   */
  deflated: boolean;
  /** Zero bytes after the last element (files padded to a block size), kept in the instance's bytes; absent when none. */
  trailingPadding?: number;
  /**
   * Why the Pixel Data value cannot be read as frames (a malformed Number of Frames, a value that
   * does not hold its frames); `pixelData` is then absent, though the element is there.
   */
  unreadablePixelData?: string;
}
