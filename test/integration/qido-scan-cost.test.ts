/**
 * The bound on one QIDO-RS search that matches on instance metadata (`limits.maxQidoScan`) bounds
 * its work, not only the number of instances it reads: wildcard matching costs up to pattern x
 * value, so a long text value (an LT of 10,000 characters) with patterns made to backtrack counts
 * as the many instances' worth of work it is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

describe('QIDO-RS: the work of matching on instance metadata counts against maxQidoScan', () => {
  let gw: TestGateway;
  const base = newUid();
  const long = `${'a'.repeat(10_000)}b`;

  before(async () => {
    gw = await startTestGateway({ limits: { maxQidoScan: 50 } });
    const all = [1, 2, 3].map((n) => syntheticInstance({ studyInstanceUID: `${base}.${n}`, patientID: 'COST-1', seriesInstanceUID: `${base}.1${n}`, sopInstanceUID: `${base}.2${n}`, extra: [{ tag: '00204000', vr: 'LT', value: long }] }));
    assert.equal((await stow(gw.dicomWebUrl, all)).status, 200);
  });
  after(async () => {
    await gw.stop();
  });

  it('cheap patterns read every instance; patterns that backtrack over a long value stop at the bound and say so', async () => {
    const cheap = await get(`${gw.dicomWebUrl}/studies?PatientID=COST-1&ImageComments=*b`, 'application/dicom+json');
    assert.equal(cheap.status, 200);
    assert.equal(JSON.parse(cheap.body.toString()).length, 3);
    assert.equal(cheap.headers.get('warning'), null);
    // Each pattern compares up to 252 characters at each of 10,000 positions: 2.5 million steps per filter.
    const costly = Array.from({ length: 12 }, (_, i) => `ImageComments=${'*'.repeat(1 + (i % 3))}${'a'.repeat(252)}b`).join('&');
    const res = await get(`${gw.dicomWebUrl}/studies?PatientID=COST-1&${costly}`, 'application/dicom+json');
    assert.equal(res.status, 200);
    assert.ok(JSON.parse(res.body.toString()).length < 3, 'stopped before the last instance');
    assert.match(res.headers.get('warning') ?? '', /examined \d+ instances, the limit for one search/);
  });
});
