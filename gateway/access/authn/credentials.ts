/**
 * Reads the credentials of a request: HTTP Basic (RFC 7617), Bearer tokens (RFC 6750: our own
 * access tokens or an OIDC provider's), and API keys (`Authorization: ApiKey <key>` or
 * `X-API-Key: <key>`) for modalities and routers. Pure parsing; verification is elsewhere.
 */

/** What a request presents. */
export type Credentials = { kind: 'none' } | { kind: 'basic'; user: string; password: string } | { kind: 'bearer'; token: string } | { kind: 'api-key'; key: string } | { kind: 'malformed'; scheme: string; problem: string };

/** Longest Authorization header value considered (larger ones are malformed, not parsed). */
const MAX_CREDENTIAL_LENGTH = 8192;

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The credentials in `headers` (Node's lower-cased header object). */
export function readCredentials(headers: Readonly<Record<string, string | string[] | undefined>>): Credentials {
  const authorization = single(headers.authorization);
  const apiKey = single(headers['x-api-key']);
  if (authorization === undefined) {
    if (apiKey === undefined) return { kind: 'none' };
    return apiKey.length > 0 && apiKey.length <= MAX_CREDENTIAL_LENGTH ? { kind: 'api-key', key: apiKey.trim() } : malformed('ApiKey', 'empty or too long');
  }
  if (authorization.length > MAX_CREDENTIAL_LENGTH) return malformed('unknown', 'credentials too long');
  const space = authorization.indexOf(' ');
  const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : authorization.slice(space + 1).trim();
  switch (scheme) {
    case 'basic': {
      if (!TOKEN68.test(value)) return malformed('Basic', 'not base64');
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return malformed('Basic', 'no colon between user and password');
      return { kind: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    case 'bearer':
      return TOKEN68.test(value) ? { kind: 'bearer', token: value } : malformed('Bearer', 'not a token');
    case 'apikey':
      return value.length > 0 ? { kind: 'api-key', key: value } : malformed('ApiKey', 'empty');
    default:
      return malformed(scheme, 'unsupported scheme');
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function malformed(scheme: string, problem: string): Credentials {
  return { kind: 'malformed', scheme, problem };
}
