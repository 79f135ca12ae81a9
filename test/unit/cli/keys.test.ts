/**
 * `aegis keys` in process, with the wrapped-key store injected: rotate over real records, exit
 * codes and usage errors. (The built binary is driven in test/integration/keys-cli.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateDataKey } from '../../../gateway/keys/envelope.js';
import { keysCommand, type KeysCommandDeps } from '../../../gateway/cli/keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import { MemoryWrappedKeyStore } from '../../../gateway/keys/memory-wrapped-key-store.js';

function capture() {
  let text = '';
  const stream = new Writable({ write: (chunk, _e, done) => ((text += chunk.toString()), done()) });
  return { stream, text: () => text };
}

describe('keysCommand', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-keys-command-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  async function run(args: string[], deps?: KeysCommandDeps) {
    const out = capture();
    const err = capture();
    const status = await keysCommand(['keys', ...args, '--data', dataDir], { stdout: out.stream, stderr: err.stream, env: {} }, deps);
    return { status, stdout: out.text(), stderr: err.text() };
  }

  it('rotates the records of the wrapped-key store and reports counts', async () => {
    assert.equal((await run(['generate'])).status, 0, 'generate k1');
    const k1 = await Keyring.load({ dataDir, env: {} });
    const store = new MemoryWrappedKeyStore(['1.2.1', '1.2.2', '1.2.3'].map((id) => ({ id, ...k1.wrap(generateDataKey()) })));
    store.put({ id: '1.2.4', keyId: 'k0', wrapped: k1.wrap(generateDataKey()).wrapped });
    let closed = 0;
    const deps: KeysCommandDeps = { openWrappedKeys: async () => ({ store, close: async () => void closed++ }) };
    assert.equal((await run(['generate'])).status, 0, 'generate k2');
    const rotate = await run(['rotate'], deps);
    assert.equal(rotate.status, 1, `one record failed: ${rotate.stderr}`);
    assert.equal(rotate.stdout, '3 data keys rewrapped under k2; 0 already under it; 0 changed meanwhile; 1 failed\n');
    assert.match(rotate.stderr, /^aegis keys: data key 1\.2\.4 \(under k0\) left as it is: master key 'k0' is not in the keyring/);
    assert.equal(closed, 1, 'store closed');
    store.put({ id: '1.2.4', ...k1.wrap(generateDataKey()) });
    const again = await run(['rotate'], deps);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, '1 data keys rewrapped under k2; 3 already under it; 0 changed meanwhile; 0 failed\n');
  });

  it('says why nothing was rewrapped when the store is empty', async () => {
    await run(['generate']);
    const rotate = await run(['rotate'], { openWrappedKeys: async () => ({ store: new MemoryWrappedKeyStore(), close: async () => {} }) });
    assert.equal(rotate.status, 0, rotate.stderr);
    assert.equal(rotate.stdout, '0 data keys rewrapped: there are none; active key k1\n');
  });

  it('answers usage errors with exit 2', async () => {
    for (const args of [[], ['shred'], ['list', 'extra'], ['generate', '--json'], ['list', '--force']]) {
      const result = await run(args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^aegis keys: .*\n\(see 'aegis keys --help'\)\n$/, 'message and hint');
    }
  });
});
