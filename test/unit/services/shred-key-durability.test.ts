/**
 * A protected instance is acknowledged only once its shred key is durable: writeProtected waits for
 * the vault's persist() (run while the fragments are written), and when the vault cannot be made
 * durable the write fails and leaves nothing behind (no fragment, no manifest copy, no shred key).
 * Concurrent writes share the vault's flushes (group commit).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { ShredKeyVault, shredKeyVaultFile } from '../../../gateway/catalog/shred-key-vault.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { MemoryShredKeyStore, type ShredKeyStore } from '../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import { createLogger } from '../../../gateway/logger.js';
import { writeProtected, type ProtectionDeps } from '../../../gateway/services/protected-fragments.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';
import { memoryKey } from '../../support/audit.js';

/** Every file under `dir`, recursively. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

function deps(root: string, vault: ShredKeyStore): ProtectionDeps {
  const key = memoryKey('k1');
  const store = new FsFragmentStore({ name: 'local', path: root });
  return {
    stores: new Map<string, FragmentStore>([['local', store]]),
    placement: { instances: 'local', regions: ['local'] },
    protection: { mode: 'hardened', regions: 2, gatewayId: 'test' },
    keyring: new Keyring([key], key).useShredKeys(vault),
    logger: createLogger('silent'),
  };
}

function instance() {
  const bytes = syntheticInstance({ rows: 64, columns: 64 });
  return { bytes, parsed: parseInstance(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
}

describe('shred key durability', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-shred-durable-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('does not acknowledge a write before the shred key is persisted', async () => {
    const vault = new MemoryShredKeyStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    vault.persist = () => gate;
    const { bytes, parsed, sha256 } = instance();
    let done = false;
    const write = writeProtected(deps(join(dir, 'gated'), vault), bytes, parsed, sha256).then((w) => ((done = true), w));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(done, false, 'the write resolved while its shred key was not yet durable');
    release();
    const written = await write;
    assert.equal(written.manifest.sopInstanceUid, parsed.sopInstanceUID);
    assert.equal(vault.size, 1);
  });

  it('fails the write and leaves nothing behind when the vault cannot be made durable', async () => {
    const vault = new MemoryShredKeyStore();
    vault.persist = () => Promise.reject(new Error('EIO: the vault disk failed'));
    const root = join(dir, 'failing');
    const { bytes, parsed, sha256 } = instance();
    await assert.rejects(writeProtected(deps(root, vault), bytes, parsed, sha256), /EIO: the vault disk failed/);
    assert.deepEqual(await files(root), [], 'fragments of the failed write remain');
    assert.equal(vault.size, 0, 'the shred key of the failed write remains');
  });

  it('asks the vault to persist every write, and every persisted key survives a reopen', async () => {
    const file = shredKeyVaultFile(join(dir, 'vault'));
    const vault = ShredKeyVault.open(file);
    let flushes = 0;
    const persist = vault.persist.bind(vault);
    vault.persist = () => (flushes++, persist());
    const d = deps(join(dir, 'shared'), vault);
    const written = await Promise.all(Array.from({ length: 8 }, () => instance()).map(({ bytes, parsed, sha256 }) => writeProtected(d, bytes, parsed, sha256)));
    assert.equal(flushes, 8, 'each write asks for a flush');
    vault.close();
    const reopened = ShredKeyVault.open(file);
    try {
      for (const w of written) assert.ok(reopened.find(w.manifest.dataKey!.shredKeyId!), 'a persisted shred key is in the vault after a reopen');
    } finally {
      reopened.close();
    }
  });
});
