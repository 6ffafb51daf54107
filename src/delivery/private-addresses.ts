import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/*
 * Where a webhook must never be sent unless AURUM_ALLOW_PRIVATE_DESTINATIONS=true: every range of
 * IANA's IPv4 and IPv6 special-purpose address registries, named by ipaddr.js (`range()` other than
 * `unicast`). ipaddr.js names all of the IPv4 registry (192.0.0.0/24, the documentation and
 * benchmarking ranges and 240/4 under `reserved`) and, for IPv6, more than the registry
 * (site-local fec0::/10 too). What it does not name is handled here:
 *  - 100:0:0:1::/64 (the dummy prefix of RFC 9780) and everything else outside 2000::/3, the only
 *    block IANA allocates for global unicast: a `unicast` IPv6 address outside it is refused too;
 *  - IPv4-compatible addresses (::a.b.c.d), which ipaddr.js calls `unicast`.
 * Addresses that carry an IPv4 address a packet may end up at are judged by that address: IPv4-mapped
 * and IPv4-compatible, SIIT (::ffff:0:a.b.c.d), NAT64's well-known prefix 64:ff9b::/96, 6to4 (2002::/16)
 * and Teredo (2001::/32: its server's and its client's address). NAT64's local-use prefix
 * 64:ff9b:1::/48 is refused whatever it embeds: IANA lists it as not globally reachable, and where it
 * leads is up to the site's own translator.
 */

type V6 = ipaddr.IPv6;

const v4Of = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
const last32 = (a: V6) => v4Of(a.parts[6] ?? 0, a.parts[7] ?? 0);

/** The IPv6 ranges whose addresses embed IPv4 addresses, and how to read them. */
const EMBEDDING: Record<string, { name: string; embedded(a: V6): ipaddr.IPv4[] } | undefined> = {
  ipv4Mapped: { name: 'IPv4-mapped', embedded: (a) => [last32(a)] },
  rfc6145: { name: 'IPv4-translated (SIIT)', embedded: (a) => [last32(a)] },
  rfc6052: { name: 'NAT64', embedded: (a) => [last32(a)] },
  '6to4': { name: '6to4', embedded: (a) => [v4Of(a.parts[1] ?? 0, a.parts[2] ?? 0)] },
  teredo: {
    name: 'Teredo',
    // The server's address in clear, the client's with every bit flipped (RFC 4380).
    embedded: (a) => [v4Of(a.parts[2] ?? 0, a.parts[3] ?? 0), v4Of(~(a.parts[6] ?? 0) & 0xffff, ~(a.parts[7] ?? 0) & 0xffff)],
  },
  ipv4Compatible: { name: 'IPv4-compatible', embedded: (a) => [last32(a)] },
};

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_LOCAL_USE = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');

/** Why an address may not be a destination (the range it is in), or null for a public address. */
export function addressProblem(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 4) return v4Problem(ipaddr.IPv4.parse(address));
  // A zone only makes sense for link-local and multicast addresses: the interface is the hub's own.
  if (address.includes('%')) return 'scoped to an interface';
  return v6Problem(canonicalV6(address));
}

export function isPrivateAddress(address: string): boolean {
  return addressProblem(address) !== null;
}

function v4Problem(a: ipaddr.IPv4): string | null {
  const range = a.range();
  return range === 'unicast' ? null : range;
}

function v6Problem(a: V6): string | null {
  let range: string = a.range();
  if (range === 'unicast' && a.parts.slice(0, 6).every((p) => p === 0)) range = 'ipv4Compatible';
  if (range === 'rfc6052' && a.match(NAT64_LOCAL_USE)) return 'NAT64 local-use (64:ff9b:1::/48)';
  const embedding = EMBEDDING[range];
  if (embedding) {
    for (const v4 of embedding.embedded(a)) {
      const problem = v4Problem(v4);
      if (problem) return `${embedding.name} of ${v4.toString()}, ${problem}`;
    }
    return null;
  }
  if (range !== 'unicast') return range;
  return a.match(GLOBAL_UNICAST) ? null : 'outside global unicast (2000::/3)';
}

/**
 * ipaddr.js reads `::a.b.c.d` as IPv4-mapped (`::ffff:a.b.c.d`), which it is not; the WHATWG URL
 * parser writes every IPv6 address in hexadecimal first, which ipaddr.js reads right.
 */
function canonicalV6(address: string): V6 {
  return ipaddr.IPv6.parse(new URL(`http://[${address}]/`).hostname.slice(1, -1));
}

/** Why a destination URL may not be used, or null. Resolves the host: every address must be public. */
export async function privateDestinationProblem(url: string): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return `${host} does not resolve`;
    }
  }
  const blocked = addresses.flatMap((address) => {
    const problem = addressProblem(address);
    return problem ? [`${address} (${problem})`] : [];
  });
  return blocked.length > 0
    ? `${host} resolves to ${blocked.join(', ')}: not a public address (set AURUM_ALLOW_PRIVATE_DESTINATIONS=true to allow it)`
    : null;
}

/**
 * A `lookup` for outgoing connections that refuses private addresses, so a name that resolved to a
 * public address when the destination was saved cannot be pointed at the hub's network later (DNS
 * rebinding).
 */
export function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...(options.family === undefined ? {} : { family: options.family }), all: true }, (error, addresses) => {
    if (error) return callback(error, '');
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
    if (allowed.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves only to private addresses`), { code: 'EPRIVATE' }), '');
    }
    if (options.all) return callback(null, allowed);
    const first = allowed[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
}
