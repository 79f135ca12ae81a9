/**
 * A real IPFS RPC endpoint for tests: the js-ipfs daemon (`ipfs` 0.66, installed apart from the
 * gateway in test/interop/ipfs-daemon/ with `npm install --no-save --prefix test/interop/ipfs-daemon`), which
 * serves the Kubo RPC API that `kubo-rpc-client` speaks. Each daemon gets a fresh repository in a
 * temp folder (`jsipfs init --profile test`), listens on loopback ports the system picks, has no
 * swarm addresses, and runs `--offline --enable-preload=false`, so nothing leaves the machine.
 * Node 20 lacks `Promise.withResolvers`, which js-ipfs calls: the daemon runs with
 * `node --require polyfill.cjs`. Start it once per test file; `stop()` ends it by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FOLDER = fileURLToPath(new URL('../interop/ipfs-daemon/', import.meta.url));
const CLI = join(FOLDER, 'node_modules/ipfs/src/cli.js');
const POLYFILL = join(FOLDER, 'polyfill.cjs');
const START_TIMEOUT_MS = 60_000;

/** A running js-ipfs daemon. */
export interface TestIpfsDaemon {
  /** The RPC API, `http://127.0.0.1:PORT/api/v0`. */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Initializes a fresh repository and starts a daemon on it; resolves once its RPC API listens. */
export async function startIpfsDaemon(): Promise<TestIpfsDaemon> {
  if (!existsSync(CLI)) throw new Error(`the js-ipfs daemon is not installed: run \`npm install --no-save --prefix test/interop/ipfs-daemon\``);
  const home = await mkdtemp(join(tmpdir(), 'aegis-ipfs-'));
  const env = { ...process.env, IPFS_PATH: join(home, 'repo') };
  try {
    await run(spawn(process.execPath, ['--require', POLYFILL, CLI, 'init', '--profile', 'test'], { env, stdio: ['ignore', 'pipe', 'pipe'] }), 'jsipfs init');
    const configFile = join(env.IPFS_PATH, 'config');
    const config = JSON.parse(await readFile(configFile, 'utf8'));
    config.Addresses = { ...config.Addresses, API: '/ip4/127.0.0.1/tcp/0', Gateway: '/ip4/127.0.0.1/tcp/0', RPC: '/ip4/127.0.0.1/tcp/0', Swarm: [] };
    await writeFile(configFile, JSON.stringify(config, null, 2));
  } catch (error) {
    await rm(home, { recursive: true, force: true });
    throw error;
  }
  const child = spawn(process.execPath, ['--require', POLYFILL, CLI, 'daemon', '--offline', '--enable-preload=false'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid!, 'SIGTERM');
      const killer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(home, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the IPFS daemon did not start in ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      const watch = (chunk: Buffer) => {
        output += chunk.toString();
        const api = /HTTP API listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/http/.exec(output);
        if (api && /Daemon is ready/.test(output)) {
          clearTimeout(timer);
          resolve(Number(api[1]));
        }
      };
      child.stdout!.on('data', watch);
      child.stderr!.on('data', watch);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the IPFS daemon exited with ${code}:\n${output}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
    return { url: `http://127.0.0.1:${port}/api/v0`, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for a short-lived command; rejects with its output unless it exits 0. */
function run(child: ChildProcess, what: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}:\n${output}`))));
  });
}
