/**
 * A real S3-compatible server for tests: `s3rver` (a Node implementation of the S3 REST API) on a
 * free loopback port, its objects in a fresh temp folder, with the buckets asked for. Start it once
 * per test file; `stop()` closes it and removes the folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error s3rver ships no type declarations
import S3rver from 's3rver';

/** A running s3rver. */
export interface TestS3Server {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Where it keeps the buckets: `<directory>/<bucket>/<key>._S3rver_object` and metadata files. */
  directory: string;
  /** Static credentials it accepts (any are accepted; these are what the tests pass). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 with `buckets` created. */
export async function startS3rver(buckets: string[]): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'aegis-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
