/**
 * The files of the pydicom corpus (test/support/corpus.ts) that Aegis parses and whose Pixel Data
 * is native, with their pixel geometry and pixel data bytes: the corpus of the pixel geometry and
 * watermark tests and of the watermark benchmark.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { datasetView, parseInstance } from '../../gateway/dicom/parse.js';
import { nativePixelBytes, pixelGeometry, type PixelGeometry } from '../../gateway/dicom/pixel-geometry.js';
import { corpusFiles, PYDICOM_DATA } from './corpus.js';

/** One corpus file with native pixel data. */
export interface NativePixelFile {
  file: string;
  /** The path relative to pydicom's data folder, e.g. `test_files/CT_small.dcm`. */
  name: string;
  geometry: PixelGeometry;
  /** Every frame's bytes, back to back (a view of the file, or of its inflated data set). */
  pixels: Uint8Array;
}

/** Every corpus file that parses and has native pixel data, in corpus order. */
export function nativePixelCorpus(): NativePixelFile[] {
  const found: NativePixelFile[] = [];
  for (const file of corpusFiles()) {
    const bytes = readFileSync(file);
    let parsed;
    try {
      parsed = parseInstance(bytes);
    } catch {
      continue;
    }
    const layout = parsed.pixelData;
    if (layout === undefined || layout.encapsulated) continue;
    const geometry = pixelGeometry(parsed.metadata, layout);
    found.push({ file, name: relative(PYDICOM_DATA, file), geometry, pixels: nativePixelBytes(datasetView(bytes, parsed), layout) });
  }
  return found;
}
