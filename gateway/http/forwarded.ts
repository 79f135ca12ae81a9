/**
 * Forwarded headers, trusted only from configured proxies: `Forwarded` (RFC 7239) and the de-facto
 * `X-Forwarded-For/-Proto/-Host/-Prefix`. A request whose TCP peer is not in
 * `server.trustedProxies` (addresses or CIDR ranges; none by default) is read as it arrived: its
 * client is the peer, its host the Host header, whatever forwarding headers it carries. From a
 * trusted proxy:
 *
 * - `Forwarded` wins when present; X-Forwarded-* are read only without it (a proxy must remove the
 *   forwarding headers of its clients that it does not write itself, or they pass for its own).
 * - The client address: the hops are walked from the nearest (the last element, added by the peer)
 *   outwards past every trusted proxy; the first address that is not a trusted proxy is the client.
 *   A hop that gives no address (`unknown`, an obfuscated `_name`, garbage) stops the walk: the
 *   client is then the last trusted proxy seen, which is all that is known.
 * - Host, proto (and X-Forwarded-Prefix): from the element added by the nearest proxy (the peer).
 * - A `Forwarded` header that is not RFC 7239 syntax is ignored with everything forwarded.
 */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { inNetworks, parseClientAddress, parseNetworkRange, type NetworkRange } from '../network.js';

/** One element of a Forwarded header: its parameters by lower-case name, values unquoted. */
export type ForwardedElement = Record<string, string>;

/** What a request says about its client and the URL it was sent to, as far as it is trusted. */
export interface ForwardedView {
  /** The client's address (the TCP peer unless a trusted proxy forwarded another). */
  clientAddress: string;
  proto?: string;
  host?: string;
  /** X-Forwarded-Prefix: the path the proxy serves the gateway under. */
  prefix?: string;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const PAIR = new RegExp(`^[ \\t]*(${TOKEN})=(${TOKEN}|${QUOTED})[ \\t]*$`);

/**
 * The elements of a Forwarded header value (several header lines arrive joined by commas), or
 * undefined when it is not RFC 7239 §4 syntax (a parameter twice in one element included).
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  for (const element of splitOutsideQuotes(value, ',')) {
    const parameters: ForwardedElement = {};
    for (const pair of splitOutsideQuotes(element, ';')) {
      const match = PAIR.exec(pair);
      if (match === null) return undefined;
      const name = match[1].toLowerCase();
      if (name in parameters) return undefined;
      const raw = match[2];
      parameters[name] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
    elements.push(parameters);
  }
  return elements;
}

/** `text` split at `separator` where it is not inside a quoted-string; undefined parts are kept empty. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The address of a Forwarded node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`), or undefined for `unknown`, `_obfuscated` and garbage. */
function nodeAddress(node: string): string | undefined {
  const text = node.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  const address = bracketed ? bracketed[1] : /^[0-9.]+(?::\d+)?$/.test(text) ? text.split(':')[0] : text.includes(':') ? text : undefined;
  const parsed = address === undefined ? undefined : parseClientAddress(address);
  return parsed?.toString();
}

/** The last value of a comma-separated header (the one the nearest proxy added). */
function lastValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value.join(',') : value;
  const last = text?.split(',').at(-1)?.trim();
  return last === '' ? undefined : last;
}

const ranges = new WeakMap<readonly string[], NetworkRange[]>();

/** The parsed ranges of `server.trustedProxies` (validated when the configuration was loaded). */
function trustedRanges(proxies: readonly string[]): NetworkRange[] {
  let parsed = ranges.get(proxies);
  if (parsed === undefined) {
    parsed = proxies.map(parseNetworkRange);
    ranges.set(proxies, parsed);
  }
  return parsed;
}

const views = new WeakMap<IncomingMessage, ForwardedView>();

/** What `req` says about its client and URL, trusting forwarded headers only from `trustedProxies` (computed once per request). */
export function forwardedView(req: IncomingMessage, trustedProxies: readonly string[]): ForwardedView {
  let view = views.get(req);
  if (view === undefined) {
    view = readForwarded(req, trustedRanges(trustedProxies));
    views.set(req, view);
  }
  return view;
}

/** The view {@link forwardedView} computed for `req`, if it did. */
export function knownForwardedView(req: IncomingMessage): ForwardedView | undefined {
  return views.get(req);
}

/** Middleware: reads the forwarded headers of every request up front (the client address for throttling and audit). */
export function readForwardedHeaders(trustedProxies: readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    forwardedView(req, trustedProxies);
    next();
  };
}

function readForwarded(req: IncomingMessage, trusted: readonly NetworkRange[]): ForwardedView {
  const peer = req.socket?.remoteAddress ?? 'unknown';
  const isTrusted = (address: string) => inNetworks(parseClientAddress(address), trusted);
  if (trusted.length === 0 || !isTrusted(peer)) return { clientAddress: peer };

  const header = req.headers.forwarded;
  let hops: Array<string | undefined>;
  let nearest: { proto?: string; host?: string; prefix?: string };
  if (header !== undefined) {
    const elements = parseForwarded(Array.isArray(header) ? header.join(',') : header);
    if (elements === undefined || elements.length === 0) return { clientAddress: peer };
    hops = elements.map((e) => (e.for === undefined ? undefined : nodeAddress(e.for)));
    const last = elements.at(-1)!;
    nearest = { proto: last.proto, host: last.host };
  } else {
    const forwardedFor = req.headers['x-forwarded-for'];
    const list = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '')).split(',').filter((s) => s.trim() !== '');
    hops = list.map((item) => nodeAddress(item));
    nearest = { proto: lastValue(req, 'x-forwarded-proto'), host: lastValue(req, 'x-forwarded-host'), prefix: lastValue(req, 'x-forwarded-prefix') };
  }
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    if (hop === undefined) break;
    client = hop;
    if (!isTrusted(hop)) break;
  }
  return {
    clientAddress: client,
    ...(nearest.host !== undefined && { host: nearest.host }),
    ...(nearest.proto !== undefined && { proto: nearest.proto.toLowerCase() }),
    ...(nearest.prefix !== undefined && { prefix: nearest.prefix }),
  };
}
