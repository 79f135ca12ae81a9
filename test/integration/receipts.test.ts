/**
 * Signed STOW receipts end to end: every instance a STOW stores comes back with a receipt in its
 * ReferencedSOPSequence item; the public keys are served without authentication at
 * /.well-known/aegis-receipt-keys; `aegis receipt verify` checks a receipt offline against a saved
 * copy of them (exit 0), and refuses it after any change, under other keys, or against another file
 * than the instance it speaks of (exit 1).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { stowBody, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

describe('signed STOW receipts', () => {
  let gw: TestGateway;
  let dir: string;
  const study = newUid();
  const sops = [newUid(), newUid()];
  const instances = sops.map((sop, i) => Buffer.from(syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: newUid(), sopInstanceUID: sop, rows: 8, columns: 8, seed: i + 1 })));
  let response: Record<string, any>;

  before(async () => {
    gw = await startTestGateway();
    dir = await mkdtemp(join(tmpdir(), 'aegis-receipts-'));
    const { body, contentType } = stowBody(instances);
    const res = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    assert.equal(res.status, 200);
    response = (await res.json()) as Record<string, any>;
    const keys = await fetch(`${gw.url}/.well-known/aegis-receipt-keys`);
    assert.equal(keys.status, 200, 'the keys are public');
    assert.equal(keys.headers.get('content-type'), 'application/jwk-set+json');
    await writeFile(join(dir, 'keys.json'), Buffer.from(await keys.arrayBuffer()));
    await writeFile(join(dir, 'stow-response.json'), JSON.stringify(response));
  });
  after(async () => {
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const receiptOf = (i: number): string => value(response['00081199'].Value[i], '00091010');
  const verify = (file: string, ...more: string[]) => runAegis(['receipt', 'verify', join(dir, file), '--keys', join(dir, 'keys.json'), ...more]);

  it('comes with every stored instance, in a private attribute of its ReferencedSOPSequence item', () => {
    assert.equal(response['00081199'].Value.length, 2);
    for (const [i, sop] of sops.entries()) {
      const item = response['00081199'].Value[i];
      assert.equal(value(item, '00081155'), sop);
      assert.equal(value(item, '00090010'), 'AEGIS RECEIPT');
      assert.match(receiptOf(i), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    }
  });

  it('verifies offline, each receipt alone or a whole STOW response, and matches the instance it speaks of', async () => {
    await writeFile(join(dir, 'r0.jws'), receiptOf(0));
    const one = await verify('r0.jws', '--instance', await saved('i0.dcm', instances[0]));
    assert.equal(one.status, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^valid: ${sops[0].replaceAll('.', '\\.')} sha256 [0-9a-f]{64} \\(${instances[0].length} bytes\\)`));
    const all = await verify('stow-response.json', '--json');
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual(
      (JSON.parse(all.stdout) as Array<{ valid: boolean; receipt: { sopInstanceUid: string } }>).map((r) => [r.valid, r.receipt.sopInstanceUid]),
      sops.map((sop) => [true, sop]),
    );
  });

  it('fails to verify after any change, under other keys, or for another file', async () => {
    const jws = receiptOf(0);
    const [header, payload, signature] = jws.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, storedAt: '2020-01-01T00:00:00.000Z' })).toString('base64url')}.${signature}`;
    const flipped = `${header}.${payload}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    for (const [name, text] of [
      ['forged.jws', forged],
      ['flipped.jws', flipped],
    ]) {
      await writeFile(join(dir, name), text);
      const run = await verify(name);
      assert.equal(run.status, 1, name);
      assert.match(run.stdout, /^INVALID: the receipt does not verify/, name);
    }
    await writeFile(join(dir, 'r0.jws'), jws);
    const otherFile = await verify('r0.jws', '--instance', await saved('i1.dcm', instances[1]));
    assert.equal(otherFile.status, 1);
    assert.match(otherFile.stdout, /^INVALID: the instance file is not what the receipt/);
    const other = await startTestGateway();
    try {
      await writeFile(join(dir, 'other-keys.json'), Buffer.from(await (await fetch(`${other.url}/.well-known/aegis-receipt-keys`)).arrayBuffer()));
    } finally {
      await other.stop();
    }
    const elsewhere = await runAegis(['receipt', 'verify', join(dir, 'r0.jws'), '--keys', join(dir, 'other-keys.json')]);
    assert.equal(elsewhere.status, 1, 'keys of another gateway');
  });

  async function saved(name: string, bytes: Uint8Array): Promise<string> {
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  }
});
