// The egress decision for one destination (docs/egress.md): pure functions over a
// tenant's egress policy (kernel/tenant/egress-policy.ts). A destination is allowed when a rule of
// the tenant, of the calling pack, or of an upstream the pack may use matches its host and port; a
// matching upstream brings its budget and credential. Host names that resolve to an address that is
// no public service's (private, loopback, link-local, reserved, or an IPv6 form of one) are refused
// unless the rule names that address literally: a public name must not become a path into the
// gateway's own network (DNS rebinding).
import { BlockList, isIPv4, isIP } from 'node:net';
import { unmappedAddress } from '../kernel/wire/ip-address.ts';
import type { EgressCredential, EgressPolicy } from '../kernel/tenant/egress-policy.ts';

export interface Destination {
  /** Lower case, without brackets. */
  host: string;
  port: number;
}

export type EgressDecision =
  | { allowed: true; upstream?: { name: string; credential?: EgressCredential }; literal: boolean }
  | { allowed: false; reason: 'egress_off' | 'host_not_allowed' };

/**
 * A request's host as rules name it: lower case, without one trailing dot. `name.` is the same
 * name as `name` in DNS; both proxy forms go through here, so neither refuses what the other allows.
 */
export function ruleHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/** A host a rule may name: a DNS name (at most 253 characters, DNS's longest) or an IPv4 address. */
const HOST_SHAPE = /^[A-Za-z0-9.-]{1,253}$/;

/**
 * A request's destination, or undefined when its host is no name a rule may match. Both proxy forms
 * go through here: Node's URL parser takes a plain request's host name of any length (as long as its
 * header limit, 16 KiB), which its audit entry, log line and refusal then carried, as many a second
 * as the tenant's dial rate allows, into the trail every tenant's Redis holds.
 */
export function destination(host: string, port: number): Destination | undefined {
  if (!HOST_SHAPE.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: ruleHost(host), port };
}

/** `host:port` of a CONNECT request, or undefined when it is not one. */
export function parseAuthority(authority: string): Destination | undefined {
  const match = /^([^:]*):([0-9]{1,5})$/.exec(authority);
  return match ? destination(match[1]!, Number(match[2])) : undefined;
}

function ruleMatches(rule: string, dest: Destination): boolean {
  const [pattern, portText] = rule.split(':') as [string, string | undefined];
  const portOk =
    portText === undefined ? dest.port === 80 || dest.port === 443 : Number(portText) === dest.port;
  if (!portOk) return false;
  if (pattern.startsWith('*.'))
    return dest.host.endsWith(pattern.slice(1)) && dest.host.length > pattern.length - 1;
  return pattern === dest.host;
}

export function decide(policy: EgressPolicy, pack: string | undefined, dest: Destination): EgressDecision {
  if (policy.mode === 'none') return { allowed: false, reason: 'egress_off' };
  const literal = isIP(dest.host) !== 0;
  const matches = (rules: readonly string[]): boolean => rules.some((rule) => ruleMatches(rule, dest));
  for (const [name, upstream] of Object.entries(policy.upstreams).sort(([a], [b]) => a.localeCompare(b))) {
    if (upstream.packs && (pack === undefined || !upstream.packs.includes(pack))) continue;
    if (matches(upstream.hosts))
      return {
        allowed: true,
        literal,
        upstream: { name, ...(upstream.credential ? { credential: upstream.credential } : {}) },
      };
  }
  if (matches(policy.hosts)) return { allowed: true, literal };
  const own = pack === undefined ? undefined : policy.packs[pack];
  if (own && matches(own.hosts)) return { allowed: true, literal };
  return { allowed: false, reason: 'host_not_allowed' };
}

// The addresses a host name must not lead to, as a table for Node's net.BlockList. Node's, not a
// package's: the only address library in the dependency tree is ipaddr.js 1.9.1, there only for
// express's proxy-addr, and its ranges lack the benchmarking networks, local-use NAT64 and the
// discard prefix; and BlockList matches subnets, so an IPv6 form that embeds an IPv4 address is a
// subnet per IPv4 range below rather than code that takes the address apart.
const PRIVATE = new BlockList();
const PRIVATE_IPV4 = [
  // "This network" (0.0.0.0/8): 0.0.0.0 reaches the host itself on Linux.
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  // Carrier-grade NAT (RFC 6598): the provider's side of the host's own network.
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  // IETF protocol assignments (192.0.0.0/24) and the benchmarking networks (198.18.0.0/15): never
  // a public service, sometimes a device on the operator's own network.
  ['192.0.0.0', 24],
  ['198.18.0.0', 15],
  // Multicast (224.0.0.0/4), reserved (240.0.0.0/4) and the limited broadcast 255.255.255.255.
  ['224.0.0.0', 3],
] as const;
/** An IPv4 network address as the two hex groups of an IPv6 address. */
const hexGroups = (net: string): string => {
  const [a, b, c, d] = net.split('.').map(Number) as [number, number, number, number];
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
};
for (const [net, prefix] of PRIVATE_IPV4) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
  // The same network inside an IPv6 address that a router or translator on the path turns back
  // into it: the well-known NAT64 prefix (64:ff9b::/96, RFC 6052), an IPv4-translated address
  // (::ffff:0:0:0/96, RFC 6145) and a 6to4 address (2002::/16, RFC 3056: the IPv4 address in bits
  // 16 to 48, reached through a 6to4 relay). A 6to4 address of a public IPv4 address stays allowed.
  PRIVATE.addSubnet(`64:ff9b::${net}`, 96 + prefix, 'ipv6');
  PRIVATE.addSubnet(`::ffff:0:${net}`, 96 + prefix, 'ipv6');
  PRIVATE.addSubnet(`2002:${hexGroups(net)}::`, 16 + prefix, 'ipv6');
}
for (const [net, prefix] of [
  // IPv4-compatible addresses (deprecated, RFC 4291), with :: and ::1: none is a public service.
  ['::', 96],
  // NAT64 for local use (RFC 8215): what it translates to is the operator's to say, not a rule's.
  ['64:ff9b:1::', 48],
  // Discard-only (RFC 6666).
  ['100::', 64],
  // Teredo (RFC 4380): a relay unwraps it to the IPv4 address it carries, stored inverted, so no
  // subnet per refused IPv4 range can tell a private one; no public service needs to be reached
  // through it.
  ['2001::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  // Site-local (deprecated, RFC 3879): still the site's own network where it is in use.
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6');

/** Whether an address is one a host name must not lead to (any of the ranges above). */
export function isPrivateAddress(address: string): boolean {
  // An IPv4-mapped IPv6 address is judged by its IPv4 part. (BlockList itself maps IPv4 addresses
  // onto ::ffff:0:0/96, so that range must not be a rule: it would refuse every IPv4 address.)
  const plain = unmappedAddress(address);
  return PRIVATE.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
}
