/**
 * The size a compressed frame declares in its own header (`gateway/dicom/frame-header.ts`),
 * against the data set's Rows and Columns: JPEG and JPEG-LS frame headers after other marker
 * segments, JPEG 2000 SIZ in a raw codestream and inside a JP2 file, frames with no header where
 * one is needed, and RLE, which declares none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameSizeProblem } from '../../../gateway/dicom/frame-header.js';

const SIZE = { rows: 16, columns: 32 };

/** A JPEG codestream: SOI, an APP0 segment, a fill byte, then the frame header `sof` of rows x columns. */
function jpeg(sof: number, rows: number, columns: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x04, 0x00, 0x00];
  const header = [0xff, 0xff, sof, 0x00, 0x0b, 0x08, rows >> 8, rows & 0xff, columns >> 8, columns & 0xff, 0x01, 0x01, 0x11, 0x00];
  return Uint8Array.from([0xff, 0xd8, ...app0, ...header, 0xff, 0xda, 0x00, 0x02]);
}

/** A JPEG 2000 codestream: SOC then SIZ with the image area (Xsiz, Ysiz) and offsets (XOsiz, YOsiz). */
function j2k(xsiz: number, ysiz: number, xosiz = 0, yosiz = 0): Uint8Array {
  const bytes = new Uint8Array(64);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xff4f);
  view.setUint16(2, 0xff51);
  view.setUint16(4, 41);
  [xsiz, ysiz, xosiz, yosiz].forEach((v, i) => view.setUint32(8 + 4 * i, v));
  return bytes;
}

/** `codestream` in a JP2 file: a signature box, then the contiguous codestream box. */
function jp2(codestream: Uint8Array): Uint8Array {
  const signature = [0, 0, 0, 12, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];
  const size = 8 + codestream.length;
  return Uint8Array.from([...signature, size >>> 24, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff, 0x6a, 0x70, 0x32, 0x63, ...codestream]);
}

describe('frameSizeProblem', () => {
  it('accepts JPEG, JPEG-LS and JPEG 2000 frames declaring the data set size', () => {
    assert.equal(frameSizeProblem('image/jpeg', jpeg(0xc0, 16, 32), SIZE), undefined);
    assert.equal(frameSizeProblem('image/jpeg', jpeg(0xc3, 16, 32), SIZE), undefined);
    assert.equal(frameSizeProblem('image/jls', jpeg(0xf7, 16, 32), SIZE), undefined);
    assert.equal(frameSizeProblem('image/jp2', j2k(32, 16), SIZE), undefined);
    assert.equal(frameSizeProblem('image/jphc', j2k(40, 20, 8, 4), SIZE), undefined);
    assert.equal(frameSizeProblem('image/jp2', jp2(j2k(32, 16)), SIZE), undefined);
  });

  it('names both sizes when the codestream declares another', () => {
    const expected = "the frame's codestream declares 65535 x 65535 pixels, the instance's Columns and Rows 32 x 16";
    assert.equal(frameSizeProblem('image/jpeg', jpeg(0xc0, 65535, 65535), SIZE), expected);
    assert.equal(frameSizeProblem('image/jls', jpeg(0xf7, 65535, 65535), SIZE), expected);
    assert.equal(frameSizeProblem('image/jp2', j2k(65535, 65535), SIZE), expected);
    assert.equal(frameSizeProblem('image/jp2', jp2(j2k(65535, 65535)), SIZE), expected);
    assert.equal(frameSizeProblem('image/jpeg', jpeg(0xc0, 0, 32), SIZE), "the frame's codestream declares 32 x 0 pixels, the instance's Columns and Rows 32 x 16");
  });

  it('refuses a frame without the header its format needs, and does not look into RLE', () => {
    assert.equal(frameSizeProblem('image/jpeg', Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2]), SIZE), 'the frame has no JPEG frame header (SOF) to decode it by');
    assert.equal(frameSizeProblem('image/jpeg', new Uint8Array(0), SIZE), 'the frame has no JPEG frame header (SOF) to decode it by');
    assert.equal(frameSizeProblem('image/jp2', Uint8Array.from([0xff, 0x4f, 0xff, 0x52]), SIZE), 'the frame has no JPEG 2000 image header (SIZ) to decode it by');
    assert.equal(frameSizeProblem('image/jp2', j2k(10, 10, 20, 20), SIZE), 'the frame has no JPEG 2000 image header (SIZ) to decode it by');
    assert.equal(frameSizeProblem('image/dicom-rle', new Uint8Array(64), SIZE), undefined);
  });
});
