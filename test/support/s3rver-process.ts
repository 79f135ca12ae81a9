/**
 * s3rver in a child process, for tests that take a backend away and bring it back: `kill()` ends
 * it with SIGKILL by its PID (like a crashed server), `restart()` starts it again on the same port
 * and folder (its objects are still there), `stop()` ends it and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./s3rver-child.mjs', import.meta.url));

/** An s3rver process. */
export interface S3rverProcess {
  endpoint: string;
  directory: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  pid(): number;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts s3rver in a child process on a free loopback port with `buckets` created. */
export async function startS3rverProcess(buckets: string[]): Promise<S3rverProcess> {
  const directory = await mkdtemp(join(tmpdir(), 'aegis-s3rver-'));
  let child: ChildProcess;
  let port = 0;
  const launch = async () => {
    child = spawn(process.execPath, [CHILD, String(port), directory, buckets.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
    port = await new Promise<number>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`s3rver did not start:\n${output}`)), 20_000);
      const watch = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on('data', watch);
      child.stderr!.on('data', watch);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code}:\n${output}`));
      });
    });
    child.stdout!.resume();
    child.stderr!.resume();
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, signal);
    await exited;
  };
  await launch();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    pid: () => child.pid!,
    kill: () => end('SIGKILL'),
    restart: launch,
    async stop() {
      await end('SIGKILL');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
