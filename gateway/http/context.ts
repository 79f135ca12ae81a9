/**
 * What every route needs: the dependencies of the app, the absolute DICOMweb root URL of a
 * request (configured `publicUrl`, else what a trusted proxy forwarded (`forwarded.ts`), else the
 * Host header) and UID validation of path parameters.
 */
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { AccessControl } from '../access/access-control.js';
import type { Catalog } from '../catalog/catalog.js';
import type { GatewayConfig } from '../config.js';
import type { Keyring } from '../keys/keyring.js';
import type { UpstreamClient } from '../services/proxy/upstream-client.js';
import type { GatewayMetrics } from '../services/metrics.js';
import { assertUid } from '../dicom/uid.js';
import { forwardedView } from './forwarded.js';

/** The dependencies `buildApp` is given; nothing is a singleton. */
export interface AppDeps {
  config: GatewayConfig;
  logger: Logger;
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  access: AccessControl;
  keyring: Keyring;
  /** Proxy mode: the client of the upstream PACS; absent without an `upstream` configuration. */
  upstream?: UpstreamClient;
  metrics: AppMetrics;
}

/** The metrics of the process, and what `GET /metrics` serves. */
export interface AppMetrics {
  /** Where this process counts. */
  recorder: GatewayMetrics;
  /** The scrape token (`metrics.tokenFile` or the environment); undefined: only admins scrape. */
  token?: string;
  /** The metrics of the whole gateway: this process's, or in a cluster every worker's merged. */
  scrape(): Promise<string>;
}

/** The mount point of the DICOMweb service. */
export const DICOMWEB_ROOT = '/dicom-web';

/** The absolute URL of the DICOMweb root as the client sees it. */
export function dicomWebBase(req: Request, config: GatewayConfig): string {
  if (config.server.publicUrl) return `${config.server.publicUrl.replace(/\/+$/, '')}${DICOMWEB_ROOT}`;
  const forwarded = forwardedView(req, config.server.trustedProxies);
  const encrypted = Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted);
  const protocol = forwarded.proto ?? (encrypted ? 'https' : 'http');
  const host = forwarded.host || req.headers.host || `${config.server.host}:${config.server.port}`;
  const prefix = (forwarded.prefix ?? '').replace(/\/+$/, '');
  const safe = (s: string) => /^[A-Za-z0-9.:\-[\]_/]*$/.test(s);
  if (!/^https?$/.test(protocol) || !safe(host) || !safe(prefix)) return `http://${config.server.host}:${config.server.port}${DICOMWEB_ROOT}`;
  return `${protocol}://${host}${prefix}${DICOMWEB_ROOT}`;
}

/** The UID path parameters of a request, validated. */
export function uidParams(req: Request): { study: string; series?: string; instance?: string } {
  const { study, series, instance } = req.params as Record<string, string | undefined>;
  assertUid(study!, 'Study Instance UID');
  if (series !== undefined) assertUid(series, 'Series Instance UID');
  if (instance !== undefined) assertUid(instance, 'SOP Instance UID');
  return { study: study!, series, instance };
}
