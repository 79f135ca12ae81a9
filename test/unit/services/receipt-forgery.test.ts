/** Forged receipts (alg confusion, embedded jwk, foreign kid, crit, b64=false) are refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactSign, exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import { createHmac, KeyObject, sign } from 'node:crypto';
import { verifyReceipt } from '../../../gateway/services/receipts.js';

const payload = { v: 1, iss: 'gw', storedAt: '2026-01-01T00:00:00Z', studyInstanceUid: '1', seriesInstanceUid: '2', sopInstanceUid: '3', sopClassUid: '4', sha256: 'a'.repeat(64), length: 1 };
const b64 = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('receipt forgery', () => {
  it('refuses every forgery', async () => {
    const real = await generateKeyPair('EdDSA', { extractable: true });
    const realJwk = { ...(await exportJWK(real.publicKey)), alg: 'EdDSA', use: 'sig' } as Record<string, unknown>;
    realJwk.kid = await calculateJwkThumbprint(realJwk as never);
    const keys = { keys: [realJwk] } as never;
    const evil = await generateKeyPair('EdDSA', { extractable: true });
    const evilJwk = await exportJWK(evil.publicKey);
    const enc = new TextEncoder().encode(JSON.stringify(payload));
    // sanity
    const good = await new CompactSign(enc).setProtectedHeader({ alg: 'EdDSA', kid: realJwk.kid as string, typ: 'aegis-receipt+jws' }).sign(real.privateKey);
    await verifyReceipt(good, keys);
    const forgeries: Record<string, string> = {
      embeddedJwk: await new CompactSign(enc).setProtectedHeader({ alg: 'EdDSA', kid: realJwk.kid as string, typ: 'aegis-receipt+jws', jwk: evilJwk }).sign(evil.privateKey),
      foreignKid: await new CompactSign(enc).setProtectedHeader({ alg: 'EdDSA', kid: 'other', typ: 'aegis-receipt+jws', jwk: evilJwk }).sign(evil.privateKey),
      noKid: await new CompactSign(enc).setProtectedHeader({ alg: 'EdDSA', typ: 'aegis-receipt+jws', jku: 'http://evil/' }).sign(evil.privateKey),
      none: `${b64({ alg: 'none', typ: 'aegis-receipt+jws' })}.${b64(payload)}.`,
      hs256: (() => {
        const h = b64({ alg: 'HS256', kid: realJwk.kid, typ: 'aegis-receipt+jws' });
        const p = b64(payload);
        return `${h}.${p}.${createHmac('sha256', String(realJwk.x)).update(`${h}.${p}`).digest('base64url')}`;
      })(),
      critUnknown: (() => {
        const h = b64({ alg: 'EdDSA', kid: realJwk.kid, typ: 'aegis-receipt+jws', crit: ['x-unknown'], 'x-unknown': 1 });
        const p = b64(payload);
        return `${h}.${p}.${sign(null, Buffer.from(`${h}.${p}`), KeyObject.from(real.privateKey)).toString('base64url')}`;
      })(),
      wrongTyp: await new CompactSign(enc).setProtectedHeader({ alg: 'EdDSA', kid: realJwk.kid as string, typ: 'JWT' }).sign(real.privateKey),
    };
    for (const [name, jws] of Object.entries(forgeries)) {
      await assert.rejects(verifyReceipt(jws, keys), (e: Error) => (console.log(name, e.message), true), name);
    }
  });
});
