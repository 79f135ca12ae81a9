/**
 * Break-glass under the default policy: a grant is used only by the requests that declare purpose
 * of use ETREAT (a physician's ordinary TREAT requests during an emergency stay ordinary: they reach
 * no study of another institution and are not flagged as emergency access in the audit trail); the
 * body of `POST /auth/break-glass` is validated, each malformed field refused with 400 and a reason
 * that names it, and nothing is granted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';
const REASON = 'patient collapsed in the emergency ward';

function basic(name: string): string {
  return `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;
}

describe('break-glass (default policy)', () => {
  let gateway: TestGateway;
  const elsewhere = { study: newUid(), series: newUid(), instance: newUid() };
  const own = { study: newUid(), series: newUid(), instance: newUid() };

  before(async () => {
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false } });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
      for (const name of ['dr-house', 'dr-body', 'dr-form']) await users.add({ name, role: 'physician', attributes: { institution: 'CHU' }, password: PASSWORD });
    } finally {
      await catalog.close();
    }
    const instances = [
      syntheticInstance({ studyInstanceUID: elsewhere.study, seriesInstanceUID: elsewhere.series, sopInstanceUID: elsewhere.instance, institutionName: 'Clinique' }),
      syntheticInstance({ studyInstanceUID: own.study, seriesInstanceUID: own.series, sopInstanceUID: own.instance, institutionName: 'CHU' }),
    ];
    const { body, contentType } = stowBody(instances);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('root') }, body });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
  });
  after(() => gateway.stop());

  const declare = (user: string, body: string, contentType = 'application/json') => fetch(`${gateway.url}/auth/break-glass`, { method: 'POST', headers: { authorization: basic(user), 'content-type': contentType }, body });
  const whoami = async (user: string, purpose?: string) => (await (await fetch(`${gateway.url}/auth/whoami`, { headers: { authorization: basic(user), ...(purpose && { 'x-purpose-of-use': purpose }) } })).json()) as Record<string, any>;
  const metadata = async (user: string, study: string, purpose?: string) => {
    const res = await fetch(`${gateway.dicomWebUrl}/studies/${study}/metadata`, { headers: { authorization: basic(user), ...(purpose && { 'x-purpose-of-use': purpose }) } });
    await res.arrayBuffer();
    return res.status;
  };

  it('a grant serves only the requests that declare purpose ETREAT; the others stay ordinary treatment and are not flagged', async () => {
    const granted = await declare('dr-house', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: 5 }));
    assert.equal(granted.status, 201);
    const grant = (await granted.json()) as { id: string };

    assert.equal(await metadata('dr-house', elsewhere.study, 'ETREAT'), 200, 'ETREAT: the emergency rule gives any study');
    assert.equal(await metadata('dr-house', elsewhere.study), 404, 'no purpose declared: TREAT, no emergency access');
    assert.equal(await metadata('dr-house', elsewhere.study, 'TREAT'), 404, 'TREAT declared: no emergency access');
    assert.equal(await metadata('dr-house', own.study), 200, 'ordinary access goes on as before');

    const plain = await whoami('dr-house');
    assert.equal(plain.purpose, 'TREAT', 'the purpose is the one declared (TREAT by default), not ETREAT');
    assert.equal(plain.breakGlass, null, 'the grant is not in force for this request');
    const emergency = await whoami('dr-house', 'ETREAT');
    assert.equal(emergency.purpose, 'ETREAT');
    assert.equal(emergency.breakGlass?.id, grant.id);

    await new Promise((resolve) => setTimeout(resolve, 300)); // the trail flushes every 50 ms
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const events = (await catalog.db.selectFrom('audit_events').select(['event']).orderBy('seq').execute()).map((r) => JSON.parse(r.event) as Record<string, any>);
      const reads = events.filter((e) => e.kind === 'request' && e.actor?.name === 'dr-house' && e.http?.path?.endsWith('/metadata'));
      assert.equal(reads.length, 4);
      assert.deepEqual(
        reads.map((e) => [e.http.path.includes(elsewhere.study) ? 'elsewhere' : 'own', e.purpose, e.emergency ?? false]),
        [
          ['elsewhere', 'ETREAT', true],
          ['elsewhere', 'TREAT', false],
          ['elsewhere', 'TREAT', false],
          ['own', 'TREAT', false],
        ],
        'only the ETREAT request is recorded as emergency access',
      );
    } finally {
      await catalog.close();
    }
  });

  it('refuses a malformed body with 400 and the reason, and grants nothing', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['minutes as an array', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: [5] }), /minutes/],
      ['minutes as a string', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: '5' }), /minutes/],
      ['a fraction of a minute', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: 2.5 }), /minutes/],
      ['negative minutes', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: -5 }), /minutes/],
      ['zero minutes', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: 0 }), /minutes/],
      ['huge minutes', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: 1e12 }), /minutes/],
      ['minutes above the policy maximum', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: 61 }), /minutes/],
      ['minutes as null', JSON.stringify({ reason: REASON, purpose: 'ETREAT', minutes: null }), /minutes/],
      ['a reason that is not a string', JSON.stringify({ reason: 1234567890123, purpose: 'ETREAT' }), /reason/],
      ['a short reason', JSON.stringify({ reason: 'help', purpose: 'ETREAT' }), /reason/],
      ['a purpose other than ETREAT', JSON.stringify({ reason: REASON, purpose: 'TREAT' }), /purpose/],
      ['a purpose as an array', JSON.stringify({ reason: REASON, purpose: ['ETREAT'] }), /purpose/],
      ['an unknown field', JSON.stringify({ reason: REASON, purpose: 'ETREAT', hours: 2 }), /hours/],
      ['a body that is not an object', JSON.stringify([REASON]), /object/],
    ];
    for (const [what, body, reason] of cases) {
      const res = await declare('dr-body', body);
      const json = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 400, what);
      assert.equal(json.error.code, 'BAD_REQUEST', what);
      assert.match(json.error.message, reason, `${what}: ${json.error.message}`);
    }
    const form = (fields: string) => declare('dr-form', fields, 'application/x-www-form-urlencoded');
    for (const [what, fields] of [
      ['a fraction in a form', `reason=${encodeURIComponent(REASON)}&purpose=ETREAT&minutes=2.5`],
      ['minutes twice in a form', `reason=${encodeURIComponent(REASON)}&purpose=ETREAT&minutes=5&minutes=6`],
      ['minutes in exponent form', `reason=${encodeURIComponent(REASON)}&purpose=ETREAT&minutes=1e1`],
      ['empty minutes in a form', `reason=${encodeURIComponent(REASON)}&purpose=ETREAT&minutes=`],
    ]) {
      const res = await form(fields);
      await res.arrayBuffer();
      assert.equal(res.status, 400, what);
    }
    for (const user of ['dr-body', 'dr-form']) assert.equal((await whoami(user, 'ETREAT')).breakGlass, null, `${user} was granted nothing`);
    const ok = await form(`reason=${encodeURIComponent(REASON)}&purpose=etreat&minutes=7`);
    assert.equal(ok.status, 201, 'a well-formed form body is granted');
    const grant = (await ok.json()) as { expiresAt: string };
    const left = Date.parse(grant.expiresAt) - Date.now();
    assert.ok(left > 6 * 60_000 && left <= 7 * 60_000, `for the minutes asked (${left} ms left)`);
    const whole = await declare('dr-body', JSON.stringify({ reason: REASON, purpose: 'ETREAT' }));
    assert.equal(whole.status, 201, 'without minutes: the policy maximum');
    const longest = Date.parse(((await whole.json()) as { expiresAt: string }).expiresAt) - Date.now();
    assert.ok(longest > 59 * 60_000 && longest <= 60 * 60_000, `the policy maximum (${longest} ms left)`);
  });
});
