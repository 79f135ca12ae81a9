import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ERROR_CATALOGUE, GatewayError, isGatewayError } from '../../gateway/errors.js';

it('docs/errors.md lists exactly the codes and statuses of the catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| ([A-Z_]+) +\| (\d{3}) +\| (.+?) *\|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
  const expected = Object.entries(ERROR_CATALOGUE).map(([code, v]) => [code, v.status, v.description]);
  assert.deepEqual(rows, expected);
});

it('GatewayError carries its code, status, headers and cause', () => {
  const cause = new Error('disk on fire');
  const error = new GatewayError('BACKEND_UNAVAILABLE', 'store down', { cause, headers: { 'Retry-After': '5' } });
  assert.equal(error.status, 503);
  assert.equal(error.cause, cause);
  assert.deepEqual(error.headers, { 'Retry-After': '5' });
  assert.equal(isGatewayError(error, 'BACKEND_UNAVAILABLE'), true);
  assert.equal(isGatewayError(error, 'NOT_FOUND'), false);
  assert.equal(isGatewayError(cause), false);
});
