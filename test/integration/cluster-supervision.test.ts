/**
 * The primary of a cluster never exits because a worker died: a worker killed (SIGKILL) while it
 * is still starting, the first one included, or while it listens, is replaced, with a backoff that
 * grows while workers keep dying and that the log shows; a worker that refuses to start with an
 * error every replacement would hit stops the start-up with that error instead of looping.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { killGroup, startGroupGateway } from '../support/crash-load.js';
import { childPids, running, until } from '../support/processes.js';

const BIN = fileURLToPath(new URL('../../bin/aegis.mjs', import.meta.url));

/** Lines of a child's stdout, parsed when they are JSON log lines. */
function logLines(text: string): { msg?: string; [field: string]: unknown }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string });
}

async function healthy(url: string): Promise<boolean> {
  const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  return res?.status === 200;
}

describe('cluster supervision', { timeout: 400_000 }, () => {
  it('replaces the first worker when it is killed before it listens, and starts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegis-sup-'));
    const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data', dataDir], {
      env: { ...process.env, AEGIS_WORKERS: '2', AEGIS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      let victim: number | undefined;
      await until(() => (victim = childPids(child.pid!)[0]) !== undefined, 'the first worker', 30_000);
      // Still loading its modules: it has not listened yet.
      assert.ok(!stdout.includes('"msg":"listening"'));
      process.kill(victim!, 'SIGKILL');
      await until(() => stdout.includes('"msg":"listening"') || child.exitCode !== null, 'the gateway to listen or exit', 60_000);
      assert.equal(child.exitCode, null, `the primary exited:\n${stderr}`);
      const url = logLines(stdout).find((l) => l.msg === 'listening')!.url as string;
      assert.equal(await healthy(url), true);
      assert.ok(!childPids(child.pid!).includes(victim!));
      const exit = logLines(stdout).find((l) => l.msg?.startsWith('a worker exited'));
      assert.equal(exit?.signal, 'SIGKILL');
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps answering while a listening worker and then its replacement, still starting, are killed; the backoff shows in the log', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegis-sup-'));
    const gw = await startGroupGateway(dataDir, 2);
    try {
      await until(() => childPids(gw.pid).length === 2, 'two workers');
      const originals = childPids(gw.pid);
      process.kill(originals[0], 'SIGKILL');
      let replacement: number | undefined;
      await until(() => (replacement = childPids(gw.pid).find((p) => !originals.includes(p))) !== undefined, 'a replacement', 30_000);
      // The replacement is still starting (it takes seconds to load): kill it too.
      process.kill(replacement!, 'SIGKILL');
      await until(() => healthy(gw.url), 'the other worker to answer meanwhile', 60_000);
      await until(() => gw.logs().includes('a replacement worker is listening'), 'a replacement to listen', 90_000);
      await until(() => childPids(gw.pid).length === 2, 'two workers again');
      assert.ok(running(gw.pid));
      for (let i = 0; i < 4; i++) await until(() => healthy(gw.url), 'an answer');
      const exits = logLines(gw.logs()).filter((l) => l.msg?.startsWith('a worker exited') || l.msg?.startsWith('worker crashed'));
      assert.equal(exits.length, 2, gw.logs());
      assert.deepEqual(
        exits.map((e) => [e.signal, e.crashesInARow, e.retryInMs]),
        [
          ['SIGKILL', 1, 100],
          ['SIGKILL', 2, 200],
        ],
      );
      assert.match(exits[1].msg!, /^worker crashed 2 times in a row within \d+(\.\d)? s of its start \(signal SIGKILL\); retrying in 0\.2 s$/);
    } finally {
      killGroup(gw.pid);
      await gw.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stops the start-up with the error of a worker that refuses to start, rather than retrying it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegis-sup-'));
    // Only a worker opens the shred-key vault: a directory in its place fails every worker's start-up
    // (the primary checks the port, the keys, the data folder and the catalog's schema before it forks).
    mkdirSync(join(dataDir, 'shred-keys.sqlite'), { mode: 0o700 });
    try {
      const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data', dataDir], {
        env: { ...process.env, AEGIS_WORKERS: '2', AEGIS_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.equal(code, 1);
      const failed = logLines(stdout).filter((l) => l.msg?.startsWith('a worker could not start'));
      assert.equal(failed.length, 1, stdout);
      assert.match(String(failed[0].reason), /shred|SQLITE|directory|database/i);
      assert.equal(logLines(stdout).filter((l) => l.msg?.startsWith('a worker exited')).length, 0, 'not retried');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
