/**
 * The renderer's initialisation (`gateway/dicom/render-image.ts`): an initialisation that failed is
 * tried again on the next render, and the retry does not correct dcmjs-imaging's Planar
 * Configuration a second time (the correction wraps the library's decoding context once per
 * process). The library's own decoding context is replaced by one that records what it is told, so
 * the test sees how many corrections a context goes through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import DcmjsImaging from 'dcmjs-imaging';
import { initialiseRenderer } from '../../../gateway/dicom/render-image.js';
import { GatewayError } from '../../../gateway/errors.js';

interface Patchable {
  _createDecodingContext(image: { getPlanarConfiguration(): number }, buffer: Uint8Array): { setPlanarConfiguration(value: number): void };
  initializeAsync(options?: unknown): Promise<void>;
}

describe('initialiseRenderer', () => {
  it('retries after a failed initialisation and corrects the Planar Configuration once, not once per attempt', async () => {
    const decoder = DcmjsImaging.NativePixelDecoder as unknown as Patchable;
    const told: number[] = [];
    decoder._createDecodingContext = () => ({ setPlanarConfiguration: (value) => void told.push(value) });
    const initialize = decoder.initializeAsync.bind(decoder);
    decoder.initializeAsync = () => Promise.reject(new Error('the WebAssembly module could not be fetched'));
    await assert.rejects(initialiseRenderer(), (error: unknown) => error instanceof GatewayError && error.code === 'INTERNAL');

    decoder.initializeAsync = initialize;
    assert.equal(await initialiseRenderer(), DcmjsImaging);
    decoder._createDecodingContext({ getPlanarConfiguration: () => 1 }, new Uint8Array(0));
    assert.deepEqual(told, [1]);
  });
});
