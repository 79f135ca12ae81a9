/** DICOM UID syntax (PS3.5 §9.1) as the gateway checks it in paths and queries. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../gateway/errors.js';
import { assertUid } from '../../../gateway/dicom/uid.js';

describe('assertUid', () => {
  it('accepts dotted components without leading zeros, up to 64 characters', () => {
    for (const uid of ['0', '1.2.840.10008.1.2.1', '2.25.329800735698586629295641978511506172918', `1.${'2'.repeat(62)}`]) {
      assert.doesNotThrow(() => assertUid(uid, 'UID'), uid);
    }
  });

  it('refuses leading zeros, empty components, letters and more than 64 characters with INVALID_UID', () => {
    for (const uid of ['', '1.02', '1..2', '.1', '1.', '1.2.a', ' 1.2', `1.${'2'.repeat(63)}`]) {
      assert.throws(
        () => assertUid(uid, 'Study Instance UID'),
        (error: unknown) => isGatewayError(error, 'INVALID_UID') && error.message.startsWith('Study Instance UID '),
        JSON.stringify(uid),
      );
    }
  });
});
