/** Every JSON error answer carries exactly `application/json` (no charset), as gateway/http/json-response.ts promises. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest } from '../support/raw-http.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

describe('JSON error Content-Type', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ auth: { bootstrapAdmin: false } });
  });
  after(() => gw?.stop());

  it('answers an OAuth token error with exactly application/json', async () => {
    const body = Buffer.from('grant_type=bogus');
    const r = await rawRequest(`${gw.url}/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length }, body });
    assert.equal(r.status, 400);
    assert.equal(r.headers['content-type'], 'application/json');
  });
});
