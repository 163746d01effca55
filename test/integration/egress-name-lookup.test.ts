// One gateway serves every tenant, and its host-name lookups are getaddrinfo calls, of which libuv
// runs 2 at once (half its default pool: egress/name-lookup.ts). A hostile tenant floods requests to
// names whose resolution hangs for real; a neighbour's request, whose name /etc/hosts answers, is
// answered at once, and the flood is refused at the deadline. No DNS server is reachable here, so
// the gateway (with the tenants' bridges: test/support/local-egress-main.ts) runs in a mount
// namespace of its own whose /etc/resolv.conf names a UDP resolver, on a loopback address, that
// never answers: each lookup of a name /etc/hosts lacks waits out the resolver's timeouts, as it
// would on a host whose resolver is slow. Needs root (port 53, unshare), as the egress tests do.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LOOKUP_DEADLINE_MS } from '../../egress/name-lookup.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { spawnLocalEgress, type LocalEgressProcess } from '../support/egress.ts';

const FLOOD = 8;
/** How long a hung lookup holds its thread: the resolver's timeout times its attempts. */
const RESOLVER = { timeoutS: 4, attempts: 2 };
const allow = (hosts: string[]): EgressPolicy => ({ mode: 'allowlist', hosts, packs: {}, upstreams: {} });

const dir = mkdtempSync(join(tmpdir(), 'egress-lookup-'));
let sink: Socket;
let gateway: LocalEgressProcess;
let ports: Record<string, number>;

beforeAll(async () => {
  // A resolver that reads every query and answers none, on an address of this run's own.
  const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  sink = createSocket('udp4');
  await new Promise<void>((resolve) => sink.bind(53, address, resolve));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(
    resolvConf,
    `nameserver ${address}\noptions timeout:${RESOLVER.timeoutS} attempts:${RESOLVER.attempts}\n`,
  );
  const options = {
    label: 'egress-lookup',
    // The hostile tenant: a wildcard rule, so each request may name a new host.
    egress: allow(['*.hang.example.test']),
    others: { neighbour: allow(['localhost']) },
  };
  gateway = await spawnLocalEgress(options, [
    'unshare',
    '--mount',
    'sh',
    '-c',
    'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"',
    'sh',
    resolvConf,
  ]);
  ports = gateway.ports;
});

afterAll(async () => {
  await gateway?.stop();
  sink?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * One GET through a tenant's bridge on a new connection: its status and JSON body; undefined when
 * none came within `ms` (or the connection failed).
 */
function get(
  port: number,
  url: string,
  ms = 60_000,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: url, agent: false, timeout: ms }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

it("answers a neighbour's request at once while a hostile tenant's hanging names are refused at the deadline", async () => {
  const started = Date.now();
  const flood = Array.from({ length: FLOOD }, (_, i) => get(ports.local!, `http://n${i}.hang.example.test/`));
  // Long enough for the flood's requests to reach the gateway and their lookups to start.
  await new Promise((resolve) => setTimeout(resolve, 500));

  // localhost resolves through /etc/hosts to loopback: refused as private, which takes a lookup.
  const before = Date.now();
  const neighbour = await get(ports.neighbour!, 'http://localhost/', 2_000);
  expect(neighbour).toMatchObject({
    status: 403,
    body: { error: 'egress_denied', reason: 'private_address' },
  });
  expect(Date.now() - before).toBeLessThan(1_000);

  const answers = await Promise.all(flood);
  for (const answer of answers)
    expect(answer).toMatchObject({
      status: 502,
      body: {
        error: 'upstream_unreachable',
        reason: 'name_resolution_timeout',
        message: `the host name did not resolve within ${LOOKUP_DEADLINE_MS} ms`,
      },
    });
  // Answered at the deadline, before the resolver's own timeouts would have.
  expect(Date.now() - started).toBeLessThan(RESOLVER.timeoutS * RESOLVER.attempts * 1000);
});
