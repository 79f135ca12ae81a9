/**
 * Client networks of environment conditions: CIDR ranges (`10.0.0.0/8`, `fd00::/8`) or single
 * addresses, IPv4 and IPv6. An IPv4 client seen through a dual-stack socket (`::ffff:10.1.2.3`) is
 * the IPv4 client 10.1.2.3, and an IPv4 client also matches IPv6 ranges that hold its IPv4-mapped
 * form (`::ffff:0:0/96`, `::/0`).
 */
import ipaddr from 'ipaddr.js';

/** A parsed range, with its text for explanations. */
export interface NetworkRange {
  text: string;
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

/** Parses `ADDRESS/PREFIX` or a single address; throws an Error with the reason when malformed. */
export function parseNetworkRange(text: string): NetworkRange {
  const cidr = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
  // Only dotted quads for IPv4: ipaddr.js would also read '10' or '0x0a.1' as addresses.
  const valid = cidr.includes(':') ? ipaddr.IPv6.isValidCIDR(cidr) : ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr);
  if (!valid) throw new Error(`'${text}' is not an IPv4 or IPv6 address or CIDR range (like 10.0.0.0/8 or fd00::/8)`);
  return { text, range: ipaddr.parseCIDR(cidr) };
}

/** Client addresses parsed lately (parsing an IPv6 form costs microseconds); emptied when full. */
const parsedClients = new Map<string, ipaddr.IPv4 | ipaddr.IPv6 | undefined>();
const PARSED_CLIENTS_MAX = 4096;

/** A client address as ranges match it (IPv4-mapped IPv6 as IPv4); undefined when it is not an IP address. */
export function parseClientAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (parsedClients.has(address)) return parsedClients.get(address);
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 | undefined;
  try {
    parsed = ipaddr.process(address);
  } catch {
    parsed = undefined;
  }
  if (parsedClients.size >= PARSED_CLIENTS_MAX) parsedClients.clear();
  parsedClients.set(address, parsed);
  return parsed;
}

/** True when the client is in one of the ranges. */
export function inNetworks(client: ipaddr.IPv4 | ipaddr.IPv6 | undefined, ranges: readonly NetworkRange[]): boolean {
  if (client === undefined) return false;
  for (const { range } of ranges) {
    const [network, prefix] = range;
    if (network.kind() === client.kind()) {
      if (client.match(range)) return true;
    } else if (client.kind() === 'ipv4' && (client as ipaddr.IPv4).toIPv4MappedAddress().match(network, prefix)) {
      return true;
    }
  }
  return false;
}
