/**
 * Starts the gateway in this process (the same `startServer` the CLI uses) on a free port with a
 * fresh data directory, for integration tests that talk HTTP to it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../gateway/cli/start.js';
import { loadConfig } from '../../gateway/config.js';

/**
 * The configuration that opens a gateway to requests without credentials, acting as the built-in
 * admin role, and creates no first admin: what tests of DICOMweb itself (not of access control)
 * run with. The secure defaults are tested on their own (test/integration/authentication.test.ts).
 */
export const OPEN_ACCESS = { auth: { anonymous: { role: 'admin' }, bootstrapAdmin: false } };

/** A gateway running in this process. */
export interface TestGateway {
  url: string;
  dicomWebUrl: string;
  dataDir: string;
  app: NonNullable<RunningServer['app']>;
  stop(): Promise<void>;
}

/**
 * Starts a gateway; `config` is merged over `{ server: { port: 0 } }`, and over {@link OPEN_ACCESS}
 * when it has no `auth` section.
 */
export async function startTestGateway(config: Record<string, unknown> = {}): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-it-'));
  if (config.auth === undefined) config = { ...config, ...OPEN_ACCESS };
  const server = (config.server as object | undefined) ?? {};
  const loaded = loadConfig({
    object: { log: { level: process.env.AEGIS_TEST_LOG_LEVEL ?? 'silent' }, ...config, dataDir, server: { port: 0, ...server } },
  });
  const running = await startServer(loaded);
  return {
    url: running.url,
    dicomWebUrl: `${running.url}/dicom-web`,
    dataDir,
    app: running.app!,
    async stop() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
