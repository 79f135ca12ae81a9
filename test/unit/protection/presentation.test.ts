/**
 * The presentation a PACS backend shows of an instance: de-identified (no patient identity, none of
 * the original UIDs), the Pixel Data value exactly the background view (region 0's pixels, the rest
 * zero), and none at all where the pixels were not segmented.
 */
import assert from 'node:assert/strict';
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { MemoryShredKeyStore } from '../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import type { MasterKey } from '../../../gateway/keys/master-key.js';
import { pacsPresentation } from '../../../gateway/protection/presentation.js';
import { protectInstance } from '../../../gateway/protection/protect.js';
import { newUid, syntheticInstance } from '../../fixtures/synthetic.js';

function keyring(): Keyring {
  const key = { id: 'k1', secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false } as MasterKey;
  return new Keyring([key], key).useShredKeys(new MemoryShredKeyStore());
}

function protect(bytes: Buffer, background: boolean) {
  const parsed = parseInstance(bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { parsed, ...protectInstance(bytes, parsed, sha256, { mode: 'hardened', regions: 2, gatewayId: 'test', keyring: keyring(), background }) };
}

describe('the PACS presentation of an instance', () => {
  it('has no identity and no original UID, and its Pixel Data is the background view', () => {
    const ids = { studyInstanceUID: newUid(), seriesInstanceUID: newUid(), sopInstanceUID: newUid() };
    const bytes = syntheticInstance({ ...ids, patientName: 'Doe^Jane', patientID: 'MRN-4711', patientBirthDate: '19511203', seed: 3 });
    const { parsed, background, body } = protect(bytes, true);
    assert.equal(body.pixels.kind, 'segmented');
    const source = parsed.pixelData;
    assert.ok(source && !source.encapsulated);
    assert.ok(background !== undefined && background.length === source.frameLength * source.numberOfFrames);
    const shown = pacsPresentation(bytes, parsed, background)!;
    const text = Buffer.from(shown).toString('latin1');
    for (const secret of ['Doe^Jane', 'MRN-4711', '19511203', ids.studyInstanceUID, ids.seriesInstanceUID, ids.sopInstanceUID]) assert.equal(text.includes(secret), false, `${secret} is shown`);
    const again = parseInstance(shown);
    assert.equal(again.sopClassUID, parsed.sopClassUID);
    const layout = again.pixelData!;
    assert.ok(!layout.encapsulated);
    assert.deepEqual(Buffer.from(shown.subarray(layout.offset, layout.offset + background.length)), Buffer.from(background));
    const original = bytes.subarray(source.offset, source.offset + background.length);
    const zeros = background.filter((b, i) => b === 0 && original[i] !== 0).length;
    assert.ok(zeros > 0, 'pixels off the background are hidden');
    assert.ok(
      background.some((b, i) => b !== 0 && b === original[i]),
      'background pixels are shown',
    );
  });

  it('two presentations of one instance share no UID (fresh random key each time)', () => {
    const bytes = syntheticInstance({ seed: 5 });
    const { parsed, background } = protect(bytes, true);
    const a = parseInstance(pacsPresentation(bytes, parsed, background)!);
    const b = parseInstance(pacsPresentation(bytes, parsed, background)!);
    assert.notEqual(a.sopInstanceUID, b.sopInstanceUID);
    assert.notEqual(a.studyInstanceUID, b.studyInstanceUID);
  });

  it('no background view, no presentation: without the option, or when nothing was segmented', () => {
    const bytes = syntheticInstance({ seed: 9 });
    const { parsed, background } = protect(bytes, false);
    assert.equal(background, undefined);
    assert.equal(pacsPresentation(bytes, parsed, background), undefined);
  });
});
