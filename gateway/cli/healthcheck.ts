/**
 * `aegis healthcheck`: asks the gateway's liveness route (`GET /healthz`) on the address the
 * configuration gives (configuration file, AEGIS_HOST, AEGIS_PORT, as `aegis start` reads them),
 * so that a container's health check follows the configured port instead of a fixed 8080. A
 * wildcard address (0.0.0.0, ::) is asked on the loopback interface. With `server.tls` it asks over
 * HTTPS without checking the certificate: the certificate names the site, not 127.0.0.1, and the
 * probe sends nothing secret and reads nothing but the status. Exit codes: 0 live, 1 not (no answer
 * in time, or not 200), 2 usage.
 */
import { Agent, request } from 'undici';
import { CommandError, parseCommandLine, processIo, runCommand, UsageError, type CommandIo } from './command.js';
import { loadConfig } from '../config.js';

/** Usage of `aegis healthcheck`. */
export const HEALTHCHECK_USAGE = `usage: aegis healthcheck [--timeout SECONDS] [--config FILE]

Asks GET /healthz of the gateway on the configured address and port (AEGIS_HOST, AEGIS_PORT or the
configuration file, as 'aegis start' reads them; a wildcard address is asked on 127.0.0.1).
Exit code 0 when it answers 200 within --timeout (default 5 s), 1 otherwise. For container health
checks: the Docker image runs it.
`;

/** The address a client reaches a server listening on `host` at: the loopback one for a wildcard. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Runs `aegis healthcheck`; resolves to the exit code. */
export async function healthcheckCommand(argv: string[], io: Omit<CommandIo, 'stdin'> = processIo()): Promise<number> {
  return runCommand('healthcheck', io, async () => {
    const { values, positionals } = parseCommandLine(argv, { timeout: { type: 'string' } });
    if (values.help) {
      io.stdout.write(HEALTHCHECK_USAGE);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    if (values.data !== undefined) throw new UsageError("'healthcheck' takes no --data");
    const timeoutSeconds = values.timeout === undefined ? 5 : Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) throw new UsageError(`--timeout: '${values.timeout}' is not a number of seconds (0 < s <= 3600)`);
    const { server } = loadConfig({ file: values.config, env: io.env, flags: {} });
    const url = `${server.tls ? 'https' : 'http'}://${reachableHost(server.host)}:${server.port}/healthz`;
    const dispatcher = server.tls ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
    let status: number;
    try {
      const response = await request(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000), dispatcher });
      status = response.statusCode;
      await response.body.dump();
    } catch (error) {
      // undici's reason: a system error (its code), an AggregateError of one per address tried, or a timeout.
      const { code, errors, cause } = error as { code?: string; errors?: Array<{ code?: string }>; cause?: { code?: string; message?: string } };
      const reason = (code?.startsWith('UND_ERR') ? undefined : code) ?? errors?.[0]?.code ?? cause?.code ?? cause?.message ?? (error as Error).name;
      throw new CommandError(`${url}: no answer (${reason})`);
    } finally {
      await dispatcher?.close();
    }
    if (status !== 200) throw new CommandError(`${url} answered ${status}`);
    io.stdout.write(`${url}: live\n`);
    return 0;
  });
}
