/**
 * `aegis start`: loads the configuration, opens the catalog and the backends, listens, and on
 * SIGTERM/SIGINT stops accepting, finishes in-flight requests, then closes the catalog.
 */
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { AddressInfo, Server } from 'node:net';
import type { Express } from 'express';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import { openFragmentStore } from '../../adapters/registry.js';
import type { Logger } from 'pino';
import { withGatewayErrors } from '../services/backends.js';
import { withResilience } from '../services/resilience.js';
import { Catalog } from '../catalog/catalog.js';
import { ShredKeyVault, shredKeyVaultFile } from '../catalog/shred-key-vault.js';
import { finishInterruptedDeletes } from '../services/interrupted-deletes.js';
import { retryRemovals } from '../services/removals.js';
import { ConfigError, dicomwebAuthorization, s3Credentials, upstreamAuthorization, type BackendConfig, type GatewayConfig } from '../config.js';
import { metricsToken } from '../config-metrics.js';
import { GatewayMetrics } from '../services/metrics.js';
import type { AppMetrics } from '../http/context.js';
import { UpstreamClient } from '../services/proxy/upstream-client.js';
import { createAccessControl } from '../access/access-control.js';
import { ensureFirstAdmin } from '../access/bootstrap.js';
import { buildApp } from '../http/app.js';
import { createGatewayServer } from '../http/server.js';
import { ensureDevelopmentKey, Keyring } from '../keys/keyring.js';
import { AuditTrail } from '../access/audit/trail.js';
import { DEFAULT_POLICY, loadPolicy } from '../access/policy/policy.js';
import { createLogger } from '../logger.js';
import { catalogFile, prepareDataDirectory } from './data-directory.js';
import { scheduleScrub } from '../services/admin/scrub-schedule.js';
import { announceTransport } from './transport-notice.js';
import { reloadOnHangup } from './tls-hangup.js';

/** A running gateway, for `main` and for tests that start one in-process. */
export interface RunningServer {
  url: string;
  /** The Express app (route inventory tests); absent in a cluster's primary, which serves nothing. */
  app?: Express;
  close(): Promise<void>;
}

/**
 * Opens the stores named in the configuration through the adapter registry, each with its errors
 * translated into the gateway's and its calls under the backend's deadline, retries and circuit
 * breaker (which log to `logger`). S3 and DICOMweb credentials are read here, from `env` or the backend's
 * credentials file (already checked when the configuration was loaded). With `metrics`, every call
 * is timed and its failures counted there.
 */
export function openStores(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env, logger: Logger = createLogger(config.log.level), metrics?: GatewayMetrics): Map<string, FragmentStore> {
  const observe = metrics && ((call: Parameters<GatewayMetrics['backendCall']>[0]) => metrics.backendCall(call));
  return new Map(config.backends.map((b) => [b.name, withResilience(withGatewayErrors(openBackend(b, env)), b, logger, observe)]));
}

function openBackend(backend: BackendConfig, env: NodeJS.ProcessEnv): FragmentStore {
  const common = { name: backend.name, timeoutMs: backend.timeoutSeconds * 1000 };
  switch (backend.kind) {
    case 'fs':
      return openFragmentStore('fs', { ...common, path: backend.path! });
    case 'ipfs':
      return openFragmentStore('ipfs', { ...common, url: backend.url });
    case 's3': {
      const found = s3Credentials(backend, env);
      if ('problem' in found) throw new ConfigError([`backends ${backend.name}: ${found.problem}`]);
      const { endpoint, region, bucket, prefix, forcePathStyle } = backend;
      return openFragmentStore('s3', { ...common, endpoint, region, bucket, prefix, forcePathStyle, credentials: found.credentials });
    }
    case 'dicomweb': {
      const found = dicomwebAuthorization(backend, env);
      if ('problem' in found) throw new ConfigError([`backends ${backend.name}: ${found.problem}`]);
      return openFragmentStore('dicomweb', { ...common, url: backend.url, orthancUrl: backend.orthancUrl, uidSalt: backend.uidSalt ?? backend.name, authorization: found.authorization });
    }
  }
}

/** The client of the upstream PACS (proxy mode), its credentials read here from `env` or its credentials file. */
export function openUpstream(upstream: NonNullable<GatewayConfig['upstream']>, env: NodeJS.ProcessEnv): UpstreamClient {
  const found = upstreamAuthorization(upstream, env);
  if ('problem' in found) throw new ConfigError([`upstream: ${found.problem}`]);
  return new UpstreamClient(upstream, found.authorization);
}

/**
 * Starts the gateway in this process with `config` and resolves once it listens. `announce: false`
 * (cluster workers) leaves the 'listening' line to the primary; `metrics` (cluster workers) is
 * where this process counts and how a scrape gathers the whole gateway's, else this process's own.
 * `claimed`: a socket already listening on the configured address (`start-up.ts` claims it before
 * anything is created), served on instead of listening anew.
 */
export async function startServer(config: GatewayConfig, options: { announce?: boolean; print?: (text: string) => void; metrics?: Pick<AppMetrics, 'recorder' | 'scrape'>; claimed?: Server } = {}): Promise<RunningServer> {
  const logger = createLogger(config.log.level);
  const hangup = reloadOnHangup(config, logger); // caught from here on: a start-up may take long
  const scrapeToken = metricsToken(config.metrics, process.env);
  if ('problem' in scrapeToken) throw new ConfigError([`metrics: ${scrapeToken.problem}`]);
  const recorder = options.metrics?.recorder ?? new GatewayMetrics();
  const metrics: AppMetrics = { recorder, token: scrapeToken.token, scrape: options.metrics?.scrape ?? (() => recorder.exposition()) };
  prepareDataDirectory(config.dataDir);
  const catalog = await Catalog.openSqlite(catalogFile(config.dataDir));
  const stores = openStores(config, process.env, logger, recorder);
  const shredKeys = ShredKeyVault.open(shredKeyVaultFile(config.dataDir));
  const keyring = (await ensureDevelopmentKey(config.dataDir, logger)).useShredKeys(shredKeys);
  // A key generated while the gateway runs becomes active here within a minute.
  const keyRefresh = setInterval(() => void keyring.refresh().catch((error: unknown) => logger.error({ err: error }, 'reading the master keys again failed')), 60_000);
  keyRefresh.unref();
  // Removals that failed are retried at start-up and then every ten minutes.
  const retry = () => void retryRemovals({ catalog, stores, logger }).catch((error: unknown) => logger.error({ err: error }, 'retrying the removal ledger failed'));
  retry();
  const removalRetry = setInterval(retry, 10 * 60_000);
  removalRetry.unref();
  const policy = config.policy === undefined ? DEFAULT_POLICY : loadPolicy(config.policy);
  const audit = new AuditTrail(catalog.db, keyring, logger, { reloadKeyring: () => Keyring.load({ dataDir: config.dataDir, env: process.env }) });
  // Durable before serving: a start without a stop in the trail marks a process that died.
  await audit
    .recordNow({ kind: 'application', operation: 'start', actor: { name: `aegis@${hostname()}`, method: 'local' }, action: 'admin', outcome: 'success', reason: `pid ${process.pid}, policy ${policy.source}` })
    .catch((error: unknown) => logger.error({ err: error }, 'the start of the gateway could not be recorded in the audit trail'));
  // Deletes a killed process left half done are finished before anything is served.
  await finishInterruptedDeletes({ catalog, stores, keyring, logger, audit }).catch((error: unknown) => logger.error({ err: error }, 'finishing the deletes a stopped gateway left unfinished failed; they are tried again at the next start'));
  // Scrub on a schedule, when configured: one process at a time (the lock file), audited.
  const onReport = (report: { faults: unknown[]; unreadable: unknown[] }) => recorder.integrityFailures('scrub', report.faults.length + report.unreadable.length);
  const scrubbing =
    config.scrub.intervalHours > 0 ? scheduleScrub({ catalog, stores, keyring, logger, audit, onReport }, { ...config.scrub, lockFile: join(config.dataDir, 'scrub.lock'), concurrency: config.placement.concurrency }) : undefined;
  const access = createAccessControl({ config, catalog, keyring, logger, policy, audit, observe: (event) => recorder.authentication(event) });
  if (config.auth.bootstrapAdmin) await ensureFirstAdmin(access.users, config.dataDir, options.print ?? ((text) => process.stderr.write(text)));
  const upstream = config.upstream && openUpstream(config.upstream, process.env);
  const app = buildApp({ config, logger, catalog, stores, access, keyring, upstream, metrics });
  const server = createGatewayServer(app, { config, audit, logger });
  hangup.serve(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    if (options.claimed) server.listen(options.claimed);
    else server.listen(config.server.port, config.server.host);
  });
  const { port, address } = server.address() as AddressInfo;
  const url = `${config.server.tls ? 'https' : 'http'}://${address.includes(':') ? `[${address}]` : address}:${port}`;
  if (options.announce !== false) announceTransport(config, logger);
  if (options.announce === false) logger.debug({ url, pid: process.pid }, 'worker listening');
  else logger.info({ url, dataDir: config.dataDir, backends: config.backends.map((b) => b.name) }, 'listening');
  if (config.server.host !== '127.0.0.1' && config.server.host !== 'localhost' && config.server.host !== '::1') {
    if (config.auth.anonymous) logger.warn({ host: config.server.host, role: config.auth.anonymous.role }, 'listening beyond the loopback interface with anonymous access open');
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: finishing in-flight requests');
      const grace = setTimeout(() => server.closeAllConnections(), config.server.shutdownGraceSeconds * 1000);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      clearTimeout(grace);
      hangup.stop();
      clearInterval(keyRefresh);
      clearInterval(removalRetry);
      scrubbing?.stop();
      audit.record({ kind: 'application', operation: 'stop', actor: { name: `aegis@${hostname()}`, method: 'local' }, action: 'admin', outcome: 'success', reason: `pid ${process.pid}` });
      await audit.close();
      await catalog.close();
      shredKeys.close();
      await Promise.all([...stores.values()].map((s) => s.close()));
      await upstream?.close();
      logger.info('stopped');
      logger.flush();
    })());
  return { url, app, close };
}
