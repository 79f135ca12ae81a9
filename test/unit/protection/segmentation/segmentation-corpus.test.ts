/**
 * The privacy split of pixel data on pydicom's corpus: every file with native pixel data is
 * segmented (or striped, for exactly the expected files and reasons) and joins back byte for byte;
 * every encapsulated Pixel Data value is striped and joins back. No fragment holds a 32-byte run of
 * the original pixel data with 8 distinct bytes, and each segmented region holds exactly its
 * pixels' bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { datasetView, parseInstance } from '../../../../gateway/dicom/parse.js';
import { joinPixelData, splitEncapsulatedPixelData, splitPixelData } from '../../../../gateway/protection/split/pixel-split.js';
import { pixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import type { ParsedInstance } from '../../../../gateway/dicom/types.js';
import type { StripeParameters } from '../../../../gateway/protection/split/byte-stripes.js';
import { corpusFiles, PYDICOM_DATA } from '../../../support/corpus.js';
import { assertNoRevealingRun, expectedRegion } from './segmentation-support.js';

/** Native pixel data that is striped, and why. */
const STRIPED: Record<string, StripeParameters['reason']> = {
  'liver_1frame.dcm': 'bit-packed',
  'liver_expb_1frame.dcm': 'bit-packed',
  'SC_ybr_full_422_uncompressed.dcm': 'length-mismatch',
};

function parsed(file: string): ParsedInstance | undefined {
  try {
    return parseInstance(readFileSync(file));
  } catch {
    return undefined; // the parser's corpus test checks the rejections
  }
}

const files = corpusFiles()
  .map((file) => ({ file, bytes: readFileSync(file), instance: parsed(file) }))
  .filter((f) => f.instance?.pixelData !== undefined);

describe(`pixel data split on the pydicom corpus (${files.length} files with pixel data)`, () => {
  it('has native and encapsulated files', () => {
    const native = files.filter((f) => f.instance!.pixelData!.encapsulated === false).length;
    assert.ok(native >= 40 && files.length - native >= 30, `${native} native, ${files.length - native} encapsulated`);
  });

  for (const { file, bytes, instance } of files) {
    it(relative(PYDICOM_DATA, file), () => {
      const layout = instance!.pixelData!;
      const view = datasetView(bytes, instance!);
      const location = instance!.bulkData.find((b) => b.path === '7FE00010');
      assert.ok(location !== undefined, 'no bulk data location of Pixel Data');
      const value = view.subarray(location.offset, location.offset + location.length);
      const geometry = pixelGeometry(instance!.metadata, layout);
      for (const regions of [2, 3]) {
        const split = layout.encapsulated ? splitEncapsulatedPixelData(value, regions) : splitPixelData(value, geometry, { regions });
        const { parameters } = split;
        assert.ok(Buffer.from(joinPixelData(split.regions, split.labelMap, geometry, parameters)).equals(value), 'join differs from the value');
        assertNoRevealingRun(value, split.regions, `R=${regions}`);
        const expected = layout.encapsulated ? 'encapsulated' : STRIPED[basename(file)];
        if (expected !== undefined) {
          assert.equal(parameters.algorithm, 'byte-stripes');
          assert.equal((parameters as StripeParameters).reason, expected);
          continue;
        }
        assert.equal(parameters.algorithm, 'kmeans-histogram', `striped: ${(parameters as StripeParameters).detail}`);
        split.regions.forEach((region, r) => {
          assert.ok(Buffer.from(region).equals(expectedRegion(value, geometry, split.segmentation!.labels, r)), `region ${r} holds other bytes than its pixels'`);
        });
      }
    });
  }
});
