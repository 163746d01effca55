// The egress decision (egress/policy.ts) over a tenant's policy (kernel/tenant/egress-policy.ts), and
// the bridge's preamble line (kernel/wire/egress-tunnel.ts): which destinations a tenant and each of
// its packs may reach, which upstream (budget, credential) a destination belongs to, what a host
// name may not resolve to, and what the gateway accepts as a pack name from a tunnel.
import { describe, expect, it } from 'vitest';
import { decide, isPrivateAddress, parseAuthority } from '../../egress/policy.ts';
import { EgressPolicySchema, type EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { formatPreamble, MAX_PREAMBLE_BYTES, parsePreamble } from '../../kernel/wire/egress-tunnel.ts';
import { egressPort } from '../../runtime-image/src/egress-bridge.ts';

const policy: EgressPolicy = EgressPolicySchema.parse({
  mode: 'allowlist',
  hosts: ['api.example.com', '*.cdn.example.net:8443'],
  packs: { files: { hosts: ['storage.example.org'] } },
  upstreams: {
    crm: {
      hosts: ['crm.example.com'],
      packs: ['crm'],
      credential: { header: 'authorization', secret: 'CRM_TOKEN', prefix: 'Bearer ' },
    },
    weather: { hosts: ['10.0.0.5:8080'] },
  },
});
const at = (host: string, port = 443) => ({ host, port });

describe('the egress decision', () => {
  it('allows the tenant-wide hosts to every pack and to the tenant-wide port, on 80 and 443 only', () => {
    for (const pack of [undefined, 'files', 'crm']) {
      expect(decide(policy, pack, at('api.example.com'))).toMatchObject({ allowed: true });
      expect(decide(policy, pack, at('api.example.com', 80))).toMatchObject({ allowed: true });
      expect(decide(policy, pack, at('api.example.com', 22))).toEqual({
        allowed: false,
        reason: 'host_not_allowed',
      });
    }
  });

  it('matches a wildcard on sub-domains only, on its own port', () => {
    expect(decide(policy, undefined, at('img.cdn.example.net', 8443)).allowed).toBe(true);
    expect(decide(policy, undefined, at('cdn.example.net', 8443)).allowed).toBe(false);
    expect(decide(policy, undefined, at('evilcdn.example.net', 8443)).allowed).toBe(false);
    expect(decide(policy, undefined, at('img.cdn.example.net', 443)).allowed).toBe(false);
  });

  it("gives a pack's own hosts to that pack only", () => {
    expect(decide(policy, 'files', at('storage.example.org')).allowed).toBe(true);
    expect(decide(policy, 'crm', at('storage.example.org')).allowed).toBe(false);
    expect(decide(policy, undefined, at('storage.example.org')).allowed).toBe(false);
  });

  it('names the upstream (with its credential) for the packs it lists, and refuses the others', () => {
    expect(decide(policy, 'crm', at('crm.example.com'))).toEqual({
      allowed: true,
      literal: false,
      upstream: {
        name: 'crm',
        credential: { header: 'authorization', secret: 'CRM_TOKEN', prefix: 'Bearer ' },
      },
    });
    expect(decide(policy, 'files', at('crm.example.com')).allowed).toBe(false);
    expect(decide(policy, undefined, at('crm.example.com')).allowed).toBe(false);
    expect(decide(policy, 'files', at('10.0.0.5', 8080))).toEqual({
      allowed: true,
      literal: true,
      upstream: { name: 'weather' },
    });
  });

  it('opens nothing when egress is off', () => {
    expect(decide({ mode: 'none' }, undefined, at('api.example.com'))).toEqual({
      allowed: false,
      reason: 'egress_off',
    });
  });
});

describe('a policy', () => {
  it('defaults to none, and refuses rules that are not bare hosts', () => {
    expect(EgressPolicySchema.parse({ mode: 'none' })).toEqual({ mode: 'none' });
    for (const rule of [
      'https://api.example.com',
      'API.example.com',
      'a.example.com/path',
      'user@a.example.com',
      '*',
    ])
      expect(EgressPolicySchema.safeParse({ mode: 'allowlist', hosts: [rule] }).success, rule).toBe(false);
  });

  it('refuses a credential header the gateway must not set, and a secret value in place of a name', () => {
    const upstream = (credential: object) => ({
      mode: 'allowlist',
      upstreams: { crm: { hosts: ['crm.example.com'], credential } },
    });
    expect(EgressPolicySchema.safeParse(upstream({ header: 'host', secret: 'CRM_TOKEN' })).success).toBe(
      false,
    );
    expect(
      EgressPolicySchema.safeParse(upstream({ header: 'x-api-key', secret: 'sk-live-1234' })).success,
    ).toBe(false);
    expect(EgressPolicySchema.safeParse(upstream({ header: 'x-api-key', secret: 'CRM_TOKEN' })).success).toBe(
      true,
    );
  });
});

describe('destinations', () => {
  it('parses CONNECT authorities and nothing else', () => {
    expect(parseAuthority('API.Example.com:443')).toEqual({ host: 'api.example.com', port: 443 });
    for (const bad of [
      'api.example.com',
      'api.example.com:0',
      'api.example.com:70000',
      'a b:443',
      'http://x:1',
    ])
      expect(parseAuthority(bad), bad).toBeUndefined();
  });

  // Each address with why it is refused (or allowed): one row per range of egress/policy.ts.
  const refused: [string, string][] = [
    ['0.1.2.3', 'this network, 0.0.0.0/8'],
    ['0.0.0.0', 'this network: the host itself'],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT, 100.64.0.0/10'],
    ['100.127.255.254', 'carrier-grade NAT, its last host'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['192.0.0.8', 'IETF protocol assignments, 192.0.0.0/24'],
    ['198.18.0.1', 'benchmarking, 198.18.0.0/15'],
    ['198.19.255.254', 'benchmarking, its last host'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved, 240.0.0.0/4'],
    ['255.255.255.255', 'limited broadcast'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['::10.0.0.1', 'IPv4-compatible, ::/96'],
    ['::93.184.216.34', 'IPv4-compatible, even of a public address: deprecated, never routed'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:0:10.0.0.1', 'IPv4-translated private, ::ffff:0:0:0/96'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique local, fc00::/7'],
    ['fec0::1', 'site-local, fec0::/10'],
    ['feff:ffff::1', 'site-local, its end'],
    ['ff02::1', 'multicast'],
    ['100::1', 'discard-only, 100::/64'],
    ['100::ffff:ffff:ffff:ffff', 'discard-only, its end'],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo of 10.0.0.1 (its IPv4 inverted)'],
    ['2001::1', 'Teredo, 2001::/32, whatever it carries'],
    ['2002:a00:1::1', '6to4 of 10.0.0.1'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['2002:a9fe:a9fe::', '6to4 of 169.254.169.254'],
    ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1, hex'],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
    ['64:ff9b::10.0.0.1', 'NAT64 of 10.0.0.1, dotted'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
    ['64:ff9b::6440:1', 'NAT64 of 100.64.0.1'],
    ['64:ff9b:1::5db8:d822', 'local-use NAT64, 64:ff9b:1::/48, whatever it embeds'],
  ];
  const allowed: [string, string][] = [
    ['93.184.216.34', 'public IPv4'],
    ['::ffff:93.184.216.34', 'IPv4-mapped public'],
    ['::ffff:0:93.184.216.34', 'IPv4-translated public'],
    ['2606:2800:220:1:248:1893:25c8:1946', 'public IPv6'],
    ['64:ff9b::5db8:d822', 'NAT64 of a public address, hex'],
    ['64:ff9b::93.184.216.34', 'NAT64 of a public address, dotted'],
    ['2002:5db8:d822::1', '6to4 of a public address'],
    ['198.20.0.1', 'past the benchmarking networks'],
    ['100.128.0.1', 'past carrier-grade NAT'],
    ['223.255.255.254', 'below multicast'],
    ['100:0:0:1::1', 'past the discard prefix'],
    ['fbff::1', 'below unique local'],
    ['2001:db9::1', 'past Teredo, in 2001::/16'],
    ['2001:4860:4860::8888', 'a public address in 2001::/16'],
  ];
  it.each(refused)('refuses %s (%s) as where a host name may lead', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });
  it.each(allowed)('lets a host name lead to %s (%s)', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('the tunnel preamble', () => {
  it('round-trips a pack name, the tenant-wide port and a link, and rejects anything else', () => {
    const link = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    expect(parsePreamble(formatPreamble({ pack: 'files' }))).toEqual({ pack: 'files' });
    expect(parsePreamble(formatPreamble({ pack: undefined }))).toEqual({ pack: undefined });
    expect(parsePreamble(formatPreamble({ pack: 'files', link }))).toEqual({ pack: 'files', link });
    expect(formatPreamble({ pack: 'a'.repeat(31), link }).length).toBeLessThanOrEqual(MAX_PREAMBLE_BYTES);
    for (const bad of [
      'bulkhead-egress/1 pack=Files\n',
      'bulkhead-egress/1 pack=a_b\n',
      `bulkhead-egress/1 pack=files link=${link.toUpperCase()}\n`,
      `bulkhead-egress/1 pack=files link=${link} more\n`,
      'bulkhead-egress/1 pack=files link=\n',
      'CONNECT x:1 HTTP/1.1\n',
      '',
    ])
      expect(parsePreamble(bad), bad).toBeNull();
  });

  it('gives each enabled pack its own port after the tenant-wide one', () => {
    const bridge = { port: 3128, packs: ['files', 'crm'] };
    expect([undefined, 'files', 'crm', 'other'].map((p) => egressPort(bridge, p))).toEqual([
      3128,
      3129,
      3130,
      undefined,
    ]);
  });
});
