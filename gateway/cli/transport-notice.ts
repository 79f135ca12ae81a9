/**
 * What the gateway says at start-up about how its traffic travels, once (from the primary of a
 * cluster, or the only process): with `server.tls`, which certificate it serves (fingerprint,
 * subject, expiry); without it, on an address beyond the loopback interface, a loud warning that
 * passwords, tokens and patient data cross the network in plain text, pointing to `docs/tls.md`.
 */
import { readTlsFiles } from '../config-tls.js';
import type { GatewayConfig } from '../config.js';
import { inNetworks, parseClientAddress, parseNetworkRange } from '../network.js';
import { reportCertificate, type TlsLogger } from '../http/tls.js';

const LOOPBACK = ['127.0.0.0/8', '::1'].map(parseNetworkRange);

/** True when `host` (an address or host name to listen on) is on the loopback interface only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || inNetworks(parseClientAddress(host), LOOPBACK);
}

/** Logs the certificate served, or warns about plain HTTP beyond loopback; never throws. */
export function announceTransport(config: GatewayConfig, logger: TlsLogger): void {
  const { host, port, tls } = config.server;
  try {
    if (tls) reportCertificate(readTlsFiles(tls), logger, 'serving HTTPS');
    else if (!isLoopbackHost(host)) {
      logger.warn(
        { host, port, docs: 'docs/tls.md' },
        `PLAIN HTTP on ${host}, beyond the loopback interface: everything sent to and from the gateway, passwords, tokens and patient data included, crosses the network unencrypted; ` +
          'configure server.tls, or listen on 127.0.0.1 behind a TLS-terminating reverse proxy (docs/tls.md)',
      );
    }
  } catch (error) {
    logger.error({ err: error }, 'the TLS certificate could not be described');
  }
}
