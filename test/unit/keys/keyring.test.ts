/**
 * The keyring: key files in DATA/keys/ (owner-only, refused otherwise), the environment key, the
 * active key, and the development key created once with one warning. Key material never shows in
 * logs, JSON or util.inspect.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isGatewayError } from '../../../gateway/errors.js';
import { generateDataKey } from '../../../gateway/keys/envelope.js';
import { createKeyFile, keyDirectory } from '../../../gateway/keys/key-directory.js';
import { ensureDevelopmentKey, Keyring, type KeyWarningLogger } from '../../../gateway/keys/keyring.js';
import { createLogger } from '../../../gateway/logger.js';

const POSIX = process.platform !== 'win32';

/** The base64 key of a key file, as stored. */
function storedKey(dataDir: string, id: string): string {
  return (JSON.parse(readFileSync(join(keyDirectory(dataDir), `${id}.key`), 'utf8')) as { key: string }).key;
}

/** Resolves to the error code `promise` rejects with, or 'none'. */
async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
    return { code: 'none', message: '' };
  } catch (error) {
    return { code: isGatewayError(error) ? error.code : `foreign ${String(error)}`, message: (error as Error).message };
  }
}

/** A logger that records warnings. */
function recordingLogger(): KeyWarningLogger & { warnings: Array<{ details: Record<string, unknown>; message: string }> } {
  const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
  return { warnings, warn: (details, message) => warnings.push({ details, message }) };
}

describe('keyring', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-keyring-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is empty without keys, and wrapping then fails with KEY_NOT_FOUND', async () => {
    const keyring = await Keyring.load({ dataDir, env: {} });
    assert.equal(keyring.active, undefined, 'no active key');
    assert.deepEqual(keyring.keys, []);
    assert.throws(
      () => keyring.wrap(generateDataKey()),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND'),
      'wrap without a key',
    );
  });

  it('creates owner-only key files k1, k2; the highest is active and older ones still unwrap', async () => {
    const dir = keyDirectory(dataDir);
    const k1 = await createKeyFile(dir, { development: false });
    const first = await Keyring.load({ dataDir, env: {} });
    const dataKey = generateDataKey();
    const wrappedUnderK1 = first.wrap(dataKey);
    const k2 = await createKeyFile(dir, { development: false });
    assert.deepEqual([k1?.id, k2?.id], ['k1', 'k2']);
    if (POSIX) {
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'directory 0700');
      for (const name of readdirSync(dir)) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, `${name} 0600`);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['k1.key', 'k2.key'], 'no temporary file left');
    const keyring = await Keyring.load({ dataDir, env: {} });
    assert.equal(keyring.active?.id, 'k2', 'k2 active');
    assert.deepEqual(
      keyring.keys.map((k) => k.id),
      ['k1', 'k2'],
    );
    assert.equal(keyring.wrap(dataKey).keyId, 'k2', 'new wraps use k2');
    assert.equal(keyring.unwrap(wrappedUnderK1).equals(dataKey), true, 'k1 still unwraps');
    assert.throws(
      () => keyring.unwrap({ keyId: 'k9', wrapped: wrappedUnderK1.wrapped }),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND'),
      'unknown key id',
    );
    assert.throws(
      () => keyring.unwrap({ keyId: 'k2', wrapped: wrappedUnderK1.wrapped }),
      (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
      'wrapped under another key',
    );
  });

  it('orders keys by number, not by name (k10 after k9)', async () => {
    const dir = keyDirectory(dataDir);
    for (let i = 0; i < 10; i++) await createKeyFile(dir, { development: false });
    const keyring = await Keyring.load({ dataDir, env: {} });
    assert.equal(keyring.active?.id, 'k10');
  });

  it('gives concurrent creations distinct numbers', async () => {
    const created = await Promise.all(Array.from({ length: 6 }, () => createKeyFile(keyDirectory(dataDir), { development: false })));
    assert.deepEqual(created.map((k) => k?.id).sort(), ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
  });

  it('takes the environment key as active, with its id, besides the key files', async () => {
    await createKeyFile(keyDirectory(dataDir), { development: false });
    const material = randomBytes(32).toString('base64');
    const named = await Keyring.load({ dataDir, env: { AEGIS_MASTER_KEY: material, AEGIS_MASTER_KEY_ID: 'hsm-2025' } });
    assert.equal(named.active?.id, 'hsm-2025');
    assert.equal(named.active?.source, 'environment');
    assert.deepEqual(
      named.keys.map((k) => k.id),
      ['k1', 'hsm-2025'],
    );
    const dataKey = generateDataKey();
    assert.equal(named.unwrap(named.wrap(dataKey)).equals(dataKey), true, 'round trip');
  });

  it('refuses a malformed environment key without echoing it, and a duplicate id', async () => {
    for (const value of ['c2hvcnQ=', `${randomBytes(32).toString('base64')}AA`, 'not base64 at all!!']) {
      const { code, message } = await rejection(Keyring.load({ dataDir, env: { AEGIS_MASTER_KEY: value } }));
      assert.equal(code, 'KEYRING_INVALID', `value of ${value.length} characters`);
      assert.equal(message.includes(value), false, 'the value is not in the message');
    }
    for (const id of [undefined, '']) {
      const { code, message } = await rejection(Keyring.load({ dataDir, env: { AEGIS_MASTER_KEY: randomBytes(32).toString('base64'), ...(id !== undefined && { AEGIS_MASTER_KEY_ID: id }) } }));
      assert.equal(code, 'KEYRING_INVALID', `AEGIS_MASTER_KEY_ID ${id === undefined ? 'unset' : 'empty'}: no default id`);
      assert.match(message, /AEGIS_MASTER_KEY_ID must name the key/);
    }
    const badId = await rejection(Keyring.load({ dataDir, env: { AEGIS_MASTER_KEY: randomBytes(32).toString('base64'), AEGIS_MASTER_KEY_ID: 'a b' } }));
    assert.equal(badId.code, 'KEYRING_INVALID', 'bad id');
    await createKeyFile(keyDirectory(dataDir), { development: false });
    const duplicate = await rejection(Keyring.load({ dataDir, env: { AEGIS_MASTER_KEY: randomBytes(32).toString('base64'), AEGIS_MASTER_KEY_ID: 'k1' } }));
    assert.equal(duplicate.code, 'KEYRING_INVALID', 'env id equal to a file id');
  });

  it('refuses key files and a key directory that group or others may access', { skip: !POSIX && 'modes mean nothing on Windows' }, async () => {
    const dir = keyDirectory(dataDir);
    await createKeyFile(dir, { development: false });
    const file = join(dir, 'k1.key');
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(file, mode);
      const { code, message } = await rejection(Keyring.load({ dataDir, env: {} }));
      assert.equal(code, 'KEYRING_INVALID', `file mode ${mode.toString(8)}`);
      assert.match(message, /refusing master key file .*k1\.key: mode 6\d\d lets group or others access it; run 'chmod 600 /);
    }
    chmodSync(file, 0o600);
    chmodSync(dir, 0o755);
    const { code, message } = await rejection(Keyring.load({ dataDir, env: {} }));
    assert.equal(code, 'KEYRING_INVALID', 'directory 0755');
    assert.match(message, /refusing master key directory .*: mode 755 .*chmod 700/);
    assert.equal((await rejection(createKeyFile(dir, { development: false }))).code, 'KEYRING_INVALID', 'nor writes a key into it');
    chmodSync(dir, 0o700);
    assert.equal((await Keyring.load({ dataDir, env: {} })).active?.id, 'k1', 'loads once fixed');
  });

  it('refuses malformed key files', async () => {
    const dir = keyDirectory(dataDir);
    mkdirSync(dir, { mode: 0o700 });
    const cases: Array<[string, string]> = [
      ['k1.key', 'not json'],
      ['k1.key', JSON.stringify({ format: 'aegis-master-key', version: 1, id: 'k2', createdAt: new Date().toISOString(), development: false, key: randomBytes(32).toString('base64') })],
      ['k1.key', JSON.stringify({ format: 'aegis-master-key', version: 1, id: 'k1', createdAt: new Date().toISOString(), development: false, key: randomBytes(16).toString('base64') })],
      ['k1.key', JSON.stringify({ format: 'aegis-master-key', version: 2, id: 'k1', createdAt: new Date().toISOString(), development: false, key: randomBytes(32).toString('base64') })],
      ['master.key', JSON.stringify({ format: 'aegis-master-key', version: 1, id: 'master', createdAt: new Date().toISOString(), development: false, key: randomBytes(32).toString('base64') })],
    ];
    for (const [name, text] of cases) {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      const { code, message } = await rejection(Keyring.load({ dataDir, env: {} }));
      assert.equal(code, 'KEYRING_INVALID', `${name}: ${text.slice(0, 40)}`);
      assert.match(message, new RegExp(name.replace('.', '\\.')), 'names the file');
      rmSync(join(dir, name));
    }
  });

  it('never shows key material in JSON, util.inspect or messages', async () => {
    await createKeyFile(keyDirectory(dataDir), { development: false });
    const keyring = await Keyring.load({ dataDir, env: {} });
    const secret = storedKey(dataDir, 'k1');
    const hex = Buffer.from(secret, 'base64').toString('hex');
    for (const text of [JSON.stringify(keyring.keys), inspect(keyring, { depth: 10, showHidden: true }), inspect(keyring.keys, { depth: 10, showHidden: true })]) {
      assert.equal(text.includes(secret) || text.includes(hex), false, `no key material in ${text.slice(0, 60)}`);
    }
  });
});

describe('development key', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-devkey-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is created with one warning when no key exists, and reused silently on the next load', async () => {
    const logger = recordingLogger();
    const first = await ensureDevelopmentKey(join(dataDir, 'fresh'), logger, {});
    assert.equal(first.active?.id, 'k1');
    assert.equal(first.active?.development, true, 'marked as a development key');
    assert.equal(logger.warnings.length, 1, 'one warning');
    assert.match(logger.warnings[0].message, /DEVELOPMENT MASTER KEY.*next to the data.*production/);
    assert.deepEqual(logger.warnings[0].details.keyId, 'k1');

    const dataKey = generateDataKey();
    const wrapped = first.wrap(dataKey);
    const second = await ensureDevelopmentKey(join(dataDir, 'fresh'), logger, {});
    assert.equal(logger.warnings.length, 1, 'no second warning');
    assert.deepEqual(
      second.keys.map((k) => k.id),
      ['k1'],
      'the same key, no new one',
    );
    assert.equal(second.unwrap(wrapped).equals(dataKey), true, 'reused: what the first wrapped, the second unwraps');
  });

  it('is created once when several processes start together', async () => {
    const logger = recordingLogger();
    const keyrings = await Promise.all(Array.from({ length: 5 }, () => ensureDevelopmentKey(dataDir, logger, {})));
    assert.equal(logger.warnings.length, 1, 'one warning');
    assert.deepEqual(readdirSync(keyDirectory(dataDir)), ['k1.key']);
    const wrapped = keyrings[0].wrap(generateDataKey());
    for (const keyring of keyrings) assert.equal(keyring.unwrap(wrapped).length, 32, 'all hold the same key');
  });

  it('is not created when the environment or a key file provides a key', async () => {
    const logger = recordingLogger();
    const fromEnv = await ensureDevelopmentKey(dataDir, logger, { AEGIS_MASTER_KEY: randomBytes(32).toString('base64'), AEGIS_MASTER_KEY_ID: 'vault-1' });
    assert.equal(fromEnv.active?.id, 'vault-1');
    await createKeyFile(keyDirectory(dataDir), { development: false });
    const fromFile = await ensureDevelopmentKey(dataDir, logger, {});
    assert.equal(fromFile.active?.development, false, 'the generated key, not a development one');
    assert.equal(logger.warnings.length, 0, 'no warning');
  });

  it('warns through a pino logger at level warn, without key material', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const logger = createLogger('info', sink);
    await ensureDevelopmentKey(dataDir, logger, {});
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines.length, 1, `one log line: ${lines.join('')}`);
    const record = JSON.parse(lines[0]) as { level: number; msg: string; keyId: string };
    assert.equal(record.level, 40, 'warn');
    assert.equal(record.keyId, 'k1');
    const secret = storedKey(dataDir, 'k1');
    assert.equal(lines[0].includes(secret), false, 'no key material in the log');
  });
});
