/**
 * The inputs the fuzzers found defects with, kept as regression cases: each is fed to the code it
 * broke and must now give the catalogued outcome (inline text here; binary inputs in regressions/).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parsePolicy } from '../../gateway/access/policy/policy.js';
import { isGatewayError } from '../../gateway/errors.js';
import { cutRanges, spliceRanges } from '../../gateway/protection/split/byte-cuts.js';
import { parseInstance } from '../../gateway/dicom/parse.js';
import { minimumBodyRate } from '../../gateway/http/body-rate.js';

/** Asserts that `action` throws the catalogued error `code` with a message matching `message`. */
function assertRefused(action: () => unknown, code: string, message: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isGatewayError(error), `not a GatewayError: ${error instanceof Error ? error.stack : String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('fuzz regressions: the policy loader', () => {
  it('an alias to an anchor that does not exist is POLICY_INVALID, not a ReferenceError', () => {
    assertRefused(() => parsePolicy('version: 1\nrules: *missing', 'fuzz.yaml'), 'POLICY_INVALID', /invalid policy fuzz\.yaml:\n {2}- .*alias.*missing/i);
  });

  it('aliases that expand exponentially (a billion laughs) are POLICY_INVALID, not a ReferenceError', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nversion: 1';
    assertRefused(() => parsePolicy(bomb, 'fuzz.yaml'), 'POLICY_INVALID', /invalid policy fuzz\.yaml:\n {2}- .*alias/i);
  });
});

describe('fuzz regressions: the byte cutter', () => {
  it('a range of negative length is INTEGRITY_FAILURE when splicing, not a RangeError', () => {
    assertRefused(() => spliceRanges(new Uint8Array(0), [{ offset: 0, length: -1 }], []), 'INTEGRITY_FAILURE', /byte range 0\+-1/);
  });

  it('a range whose length is not a number is INTEGRITY_FAILURE, not silently dropped', () => {
    assertRefused(() => cutRanges(new Uint8Array(8), [{ offset: 2, length: NaN }]), 'INTEGRITY_FAILURE', /byte range 2\+NaN/);
  });
});

describe('fuzz regressions: the DICOM parser', () => {
  it('an element inside an item whose length runs past the item is INVALID_DICOM (it made the identity split cut outside the bytes)', () => {
    // A mutated synthetic instance: a top-level (FFFE,E0DD) holding an item of 10 bytes whose one
    // element declares 824,201,801 bytes. It used to parse; storing it failed with INTEGRITY_FAILURE.
    const bytes = new Uint8Array(readFileSync(new URL('./regressions/nested-element-past-end.bin', import.meta.url)));
    assertRefused(() => parseInstance(bytes), 'INVALID_DICOM', /^truncated: element \(5349,5F4F\) declares 824201801 bytes but only 2 remain in its item$/);
  });
});

describe('fuzz regressions: the minimum body rate', () => {
  it('requests with a body on one keep-alive connection leave no listener on its socket once they end', () => {
    // The HTTP fuzzer saw MaxListenersExceededWarning: 11 close listeners on one socket.
    const logger = { warn() {}, error() {} } as never;
    const middleware = minimumBodyRate({ minBodyBytesPerSecond: 1, bodyRateGraceSeconds: 10 }, logger);
    const socket = Object.assign(new EventEmitter(), { bytesRead: 0, destroyed: false });
    for (let i = 0; i < 20; i++) {
      const req = Object.assign(new EventEmitter(), { headers: { 'content-length': '10' }, complete: false, socket, readableLength: 0 });
      let called = false;
      middleware(req as never, {} as never, () => (called = true));
      assert.ok(called);
      req.emit('end');
    }
    assert.equal(socket.listenerCount('close'), 0);
  });
});
