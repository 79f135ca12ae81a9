/**
 * What `aegis start` checks and takes before the gateway starts, in an order that leaves nothing
 * behind when it refuses:
 *
 * 1. the port (`port-claim.ts`): a port in use, privileged, or an address of another machine stops
 *    the start before the data folder, the catalog or the first admin's password exist;
 * 2. with NODE_ENV=production, a real master key (`keys/keyring.ts`): a development key is never
 *    created, nor used, in production;
 * 3. the data folder: created 0700 when missing, refused when group or others may access it
 *    (`data-directory.ts`);
 * 4. the data folder's lock (`data-lock.ts`): one gateway per data folder;
 * 5. the catalog's schema (`catalog/schema-version.ts`): a catalog a newer Aegis has migrated is
 *    refused, naming both versions (no downgrade).
 *
 * A cluster's workers take none of these: their primary holds them for the gateway's whole life.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:net';
import type { GatewayConfig } from '../config.js';
import { isGatewayError, type ErrorCode, type GatewayError } from '../errors.js';
import { Keyring, refuseDevelopmentKeyInProduction } from '../keys/keyring.js';
import { existsSync } from 'node:fs';
import { createLogger } from '../logger.js';
import { lockDataDirectory, type DataDirectoryLock } from './data-lock.js';
import { catalogFile, prepareDataDirectory } from './data-directory.js';
import { refuseNewerCatalogFile } from '../catalog/schema-version.js';
import { claimPort, releasePort } from './port-claim.js';

/** What a start holds: the claimed port (single process only) and the data folder's lock. */
export interface StartClaims {
  /** The listening socket the single process serves on; absent in a cluster (its primary released it before forking). */
  port?: Server;
  /** Released once the gateway has stopped. */
  lock?: DataDirectoryLock;
}

/** The codes of refusals that `aegis start` reports as one line on stderr, exit 1, without a stack. */
const START_REFUSALS: readonly ErrorCode[] = ['PORT_UNAVAILABLE', 'KEY_NOT_FOUND', 'KEYRING_INVALID', 'DATA_EXPOSED', 'DATA_DIRECTORY_LOCKED', 'LOCK_FILE_INVALID', 'CATALOG_TOO_NEW', 'BACKEND_UNAVAILABLE'];

/** True when `error` is a refusal of {@link claimStart}, for the user to fix. */
export function isStartRefusal(error: unknown): error is GatewayError {
  return isGatewayError(error) && START_REFUSALS.includes(error.code);
}

/**
 * Claims the port, checks the key in production, prepares and locks the data folder (see the
 * module header); throws a {@link isStartRefusal} error, having released what it took, when one
 * of them fails. In a cluster worker it takes nothing.
 */
export async function claimStart(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): Promise<StartClaims> {
  if (cluster.isWorker) return {};
  const port = await claimPort(config.server.host, config.server.port);
  let lock: DataDirectoryLock | undefined;
  try {
    refuseDevelopmentKeyInProduction(await Keyring.load({ dataDir: config.dataDir, env }), config.dataDir, env);
    prepareDataDirectory(config.dataDir);
    lock = lockDataDirectory(config.dataDir, createLogger(config.log.level));
    // A catalog a newer Aegis has migrated: refused before workers that would each refuse are forked.
    if (existsSync(catalogFile(config.dataDir))) await refuseNewerCatalogFile(catalogFile(config.dataDir));
  } catch (error) {
    lock?.release();
    await releasePort(port);
    throw error;
  }
  if (config.server.workers <= 1) return { port, lock };
  // The workers listen through the primary, which binds the address again for them.
  await releasePort(port);
  return { lock };
}
