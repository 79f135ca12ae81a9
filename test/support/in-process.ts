/**
 * Starts the gateway in this process (the same `startServer` the CLI uses) on a free port with a
 * fresh data directory, for integration tests that talk HTTP to it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../gateway/cli/start.js';
import { loadConfig } from '../../gateway/config.js';

/** A gateway running in this process. */
export interface TestGateway {
  url: string;
  dicomWebUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts a gateway; `config` is merged over `{ server: { port: 0 } }`. */
export async function startTestGateway(config: Record<string, unknown> = {}): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-it-'));
  const server = (config.server as object | undefined) ?? {};
  const loaded = loadConfig({
    object: { log: { level: process.env.AEGIS_TEST_LOG_LEVEL ?? 'silent' }, ...config, dataDir, server: { port: 0, ...server } },
  });
  const running = await startServer(loaded);
  return {
    url: running.url,
    dicomWebUrl: `${running.url}/dicom-web`,
    dataDir,
    async stop() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
