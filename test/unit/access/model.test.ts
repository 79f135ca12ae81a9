/**
 * Subject keys: local users, external identities and the anonymous subject never share one, and an
 * external subject without issuer and `sub` has none (nothing stands in for them).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { subjectKey, type Subject } from '../../../gateway/access/model.js';
import { isGatewayError } from '../../../gateway/errors.js';

const base = { role: 'radiologist', attributes: {} };

it('keys local users by name and external identities by issuer and sub, never colliding', () => {
  const local: Subject = { ...base, name: 'grace', method: 'basic' };
  const viaToken: Subject = { ...base, name: 'grace', method: 'token' };
  const external: Subject = { ...base, name: 'grace', method: 'oidc', issuer: 'https://idp.example.org', externalId: 'grace' };
  const otherIdp: Subject = { ...external, issuer: 'https://other.example.org' };
  const renamed: Subject = { ...external, name: 'grace.h' };
  const anonymous: Subject = { ...base, name: 'anonymous', method: 'anonymous' };
  const localAnonymous: Subject = { ...base, name: 'anonymous', method: 'password' };
  assert.equal(subjectKey(local), subjectKey(viaToken), 'one local user, whatever credential');
  assert.equal(subjectKey(external), subjectKey(renamed), 'an external identity keeps its key when its name claim changes');
  const keys = [local, external, otherIdp, anonymous, localAnonymous].map(subjectKey);
  assert.equal(new Set(keys).size, keys.length, `all distinct: ${keys.join(' | ')}`);
  // A crafted issuer or sub cannot make another pair's key.
  assert.notEqual(subjectKey({ ...external, issuer: 'a","b', externalId: 'c' }), subjectKey({ ...external, issuer: 'a', externalId: 'b","c' }));
});

it('refuses to key an external subject without issuer and sub', () => {
  for (const subject of [
    { ...base, name: 'grace', method: 'oidc', issuer: 'https://idp.example.org' },
    { ...base, name: 'grace', method: 'oidc', externalId: 'x' },
    { ...base, name: 'grace', method: 'oidc', issuer: '', externalId: 'x' },
  ] as Subject[]) {
    assert.throws(
      () => subjectKey(subject),
      (error: unknown) => isGatewayError(error, 'INTERNAL'),
    );
  }
});
