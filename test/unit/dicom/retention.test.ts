/**
 * Parsing keeps no reference to the instance it parsed: once the caller lets go of a received
 * instance (hundreds of megabytes for a large STOW-RS part), garbage collection frees it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Parses an instance in a frame of its own and returns a weak reference to its bytes. */
function parseAndDrop(): WeakRef<Uint8Array> {
  // A description longer than the short-string path, so the decoder makes a Buffer view.
  const bytes = syntheticInstance({ rows: 512, columns: 512, studyDescription: 'a study description that is longer than twenty-four characters' });
  const parsed = parseInstance(bytes);
  assert.equal(parsed.metadata['00081030'].Value?.[0], 'a study description that is longer than twenty-four characters');
  return new WeakRef(bytes);
}

it('a parsed instance is freed once its caller drops it', async () => {
  const ref = parseAndDrop();
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  assert.equal(ref.deref(), undefined, 'nothing holds the instance after parsing');
});
