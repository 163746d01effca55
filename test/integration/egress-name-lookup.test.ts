// One gateway serves every tenant, and its host-name lookups are getaddrinfo calls, of which libuv
// runs 2 at once (half its default pool: egress/name-lookup.ts). A hostile tenant floods requests to
// names whose resolution hangs for real; a neighbour's request, whose name /etc/hosts answers, is
// answered at once, and the flood is refused at the deadline. No DNS server is reachable here, so
// the gateway (with the tenants' bridges: test/support/local-egress-main.ts) runs in a mount
// namespace of its own whose /etc/resolv.conf names a UDP resolver, on a loopback address, that
// never answers: each lookup of a name /etc/hosts lacks waits out the resolver's timeouts, as it
// would on a host whose resolver is slow. Those timeouts are the longest resolv.conf allows, longer
// than the test's own timeout, so no answer the test sees comes from the resolver giving up: the
// neighbour's answer came past the hung lookups, and the flood's from the gateway's deadline, however
// slowly a loaded machine runs them. At the end the resolver answers every query (the name does not
// exist), so the gateway's lookup threads come back and it can exit. Needs root (port 53, unshare), as the egress tests do.
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
import { until } from '../support/until.ts';

const FLOOD = 8;
/**
 * How long a hung lookup holds its thread: the resolver's timeout times its attempts, each the most
 * resolv.conf allows (150 s, past vitest.config.ts's testTimeout).
 */
const RESOLVER = { timeoutS: 30, attempts: 5 };
const allow = (hosts: string[]): EgressPolicy => ({ mode: 'allowlist', hosts, packs: {}, upstreams: {} });

const dir = mkdtempSync(join(tmpdir(), 'egress-lookup-'));
let sink: Socket;
/** Queries the resolver has read, held unanswered until `answerAll()`. */
const held: { query: Buffer; port: number; address: string }[] = [];
let answering = false;
let gateway: LocalEgressProcess;
let ports: Record<string, number>;

beforeAll(async () => {
  // A resolver that reads every query and answers none, on an address of this run's own.
  const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  sink = createSocket('udp4');
  sink.on('message', (query, from) => {
    held.push({ query, port: from.port, address: from.address });
    if (answering) answerAll();
  });
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

/** Answers each held query: the name does not exist (NXDOMAIN), which ends its lookup. */
function answerAll(): void {
  answering = true;
  for (const { query, port, address } of held.splice(0)) {
    const answer = Buffer.from(query);
    answer[2]! |= 0x80; // a response
    answer[3] = (answer[3]! & 0xf0) | 0x80 | 3; // recursion available; NXDOMAIN
    sink.send(answer, port, address);
  }
}

afterAll(async () => {
  if (sink) answerAll();
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

it("answers a neighbour's request past a hostile tenant's hanging names, which are refused at the deadline", async () => {
  const flood = Array.from({ length: FLOOD }, (_, i) => get(ports.local!, `http://n${i}.hang.example.test/`));
  await until(() => held.length > 0, "the flood's first lookup to reach the resolver");

  // localhost resolves through /etc/hosts to loopback: refused as private, which takes a lookup. Had
  // it waited for a thread the flood holds, it would wait out the resolver's 150 s: the request gives
  // up at half the test's timeout instead, far past what load takes, and answers undefined.
  const neighbour = await get(ports.neighbour!, 'http://localhost/', 30_000);
  expect(neighbour).toMatchObject({
    status: 403,
    body: { error: 'egress_denied', reason: 'private_address' },
  });

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
});
