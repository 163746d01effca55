// The gateway is one process for every tenant: the upstream connections one tenant holds there are
// bounded, counted where they arrive, on the loopback upstreams' side. Plain HTTP: a tenant's kept
// alive connections to many addresses (each upstream port is one) stay within its bound, an idle
// one closed to make room; with every one held by an upstream that does not answer, a further
// request is refused (502 upstream_connections_busy, audited), and another tenant is served all
// the while. CONNECT: a tenant's tunnels are its proxy connections in use, at most
// BULKHEAD_EGRESS_MAX_CONNECTIONS, its idle pool included. Real gateway, bridges and Redis
// (test/support/egress.ts).
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import {
  proxyGet,
  startLocalEgress,
  startUpstream,
  type LocalEgress,
  type Upstream,
} from '../support/egress.ts';

const allow = (hosts: string[]): EgressPolicy => ({ mode: 'allowlist', hosts, packs: {}, upstreams: {} });

/** Told of each request an upstream holds and each answer a client gets: what `until` waits on. */
const progress = new EventEmitter();

/** Upstream connections open now and at most so far, over every port of a set of upstreams. */
interface Meter {
  open: number;
  max: number;
}

interface CountingUpstreams {
  ports: number[];
  meter: Meter;
  /** Requests held unanswered (`hold`), until release(). */
  held: Socket[];
  release(): void;
  close(): Promise<void>;
}

const ANSWER = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok';

/**
 * `count` TCP servers on 127.0.0.1 that answer each request with a kept-alive 200, or hold it.
 * A connection counts from its first bytes until its peer's end (or its close). Not from its
 * accept: the gateway closes an idle connection before it opens the one that takes its place, and
 * its end reaches the server first, but a server accepts every connection waiting at once, a later
 * one with them, before it reads that end; the new connection's request comes after the end.
 */
async function countingUpstreams(
  count: number,
  options: { hold: boolean; meter?: Meter },
): Promise<CountingUpstreams> {
  const meter = options.meter ?? { open: 0, max: 0 };
  const held: Socket[] = [];
  const servers: Server[] = [];
  const accepted = new Set<Socket>();
  for (let i = 0; i < count; i++) {
    const server = createServer((socket) => {
      accepted.add(socket);
      let counted = false;
      socket.once('data', () => {
        counted = true;
        meter.open += 1;
        meter.max = Math.max(meter.max, meter.open);
      });
      const gone = (): void => {
        if (counted) meter.open -= 1;
        counted = false;
      };
      socket.once('end', gone);
      socket.once('close', () => {
        gone();
        accepted.delete(socket);
      });
      socket.on('error', () => socket.destroy());
      let request = '';
      socket.on('data', (chunk: Buffer) => {
        request += chunk.toString('latin1');
        if (!request.includes('\r\n\r\n')) return;
        request = '';
        if (!options.hold) return socket.write(ANSWER);
        held.push(socket);
        progress.emit('change');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  return {
    ports: servers.map((s) => (s.address() as AddressInfo).port),
    meter,
    held,
    release: () => held.splice(0).forEach((socket) => socket.write(ANSWER)),
    async close() {
      for (const socket of accepted) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

/** Client connections a test opened, each closed when it ends. */
const opened: Socket[] = [];

/**
 * A CONNECT to 127.0.0.1:`upstream` on a new connection to a bridge port, left open with a request
 * sent through it: the status of its answer (a tunnel's status line, or a refusal).
 */
function tunnel(port: number, upstream: number): Promise<number> {
  return new Promise((resolve) => {
    const target = `127.0.0.1:${upstream}`;
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`),
    );
    opened.push(socket);
    let raw = '';
    let answered = false;
    const settle = (): void => resolve(Number(raw.split(' ')[1] ?? 0));
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (answered || !raw.includes('\r\n\r\n')) return;
      answered = true;
      if (raw.startsWith('HTTP/1.1 200')) socket.write('GET / HTTP/1.1\r\nhost: upstream\r\n\r\n');
      settle();
    });
    socket.on('error', () => undefined);
    socket.on('close', settle);
  });
}

/** Resolves once `done()` holds, checked at each change told to `progress`; the test's timeout bounds it. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await once(progress, 'change');
}

describe('plain HTTP: a tenant holds at most BULKHEAD_EGRESS_MAX_UPSTREAM_SOCKETS upstream connections', () => {
  const BOUND = 4;
  /** One tenant's connections, over every upstream it reaches. */
  const meter: Meter = { open: 0, max: 0 };
  let quick: CountingUpstreams;
  let slow: CountingUpstreams;
  let neighbour: Upstream;
  let local: LocalEgress;

  beforeAll(async () => {
    quick = await countingUpstreams(3 * BOUND, { hold: false, meter });
    slow = await countingUpstreams(1, { hold: true, meter });
    neighbour = await startUpstream('neighbour');
    const hosts = [...quick.ports, ...slow.ports].map((port) => `127.0.0.1:${port}`);
    local = await startLocalEgress({
      label: 'egress-upstream-bound',
      egress: allow(hosts),
      others: { neighbour: allow([`127.0.0.1:${neighbour.port}`]) },
      maxUpstreamSockets: BOUND,
    });
  });

  afterAll(async () => {
    for (const socket of opened) socket.destroy();
    slow?.release();
    await local?.close();
    await quick?.close();
    await slow?.close();
    await neighbour?.close();
  });

  it('keeps no more connections to many addresses than its bound: an idle one is closed to make room', async () => {
    for (const port of quick.ports)
      expect(await proxyGet(local.port, `http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'ok' });
    expect(meter.max).toBe(BOUND);
  }, 30_000);

  it('refuses a request past its bound while every connection is held, and serves another tenant meanwhile', async () => {
    const target = `http://127.0.0.1:${slow.ports[0]}/`;
    const answers: { status: number; body: string }[] = [];
    const calls = Array.from({ length: 2 * BOUND }, () =>
      proxyGet(local.port, target).then((a) => {
        answers.push(a);
        progress.emit('change');
      }),
    );
    try {
      await until(() => slow.held.length + answers.length >= 2 * BOUND);
      expect(slow.held).toHaveLength(BOUND);
      expect(answers).toHaveLength(BOUND);
      for (const answer of answers) {
        expect(answer.status).toBe(502);
        expect(JSON.parse(answer.body)).toMatchObject({
          error: 'upstream_unreachable',
          reason: 'upstream_connections_busy',
          limit: BOUND,
        });
      }
      expect(await proxyGet(local.ports.neighbour!, `http://127.0.0.1:${neighbour.port}/`)).toEqual({
        status: 200,
        body: 'hello from neighbour',
      });
    } finally {
      slow.release();
    }
    await Promise.all(calls);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(BOUND);
    expect(meter.max).toBe(BOUND);
    // Each refusal is in the tenant's trail, with its reason.
    const trail = new AuditTrail({ redis: local.redis, prefix: local.ns.installation.registryPrefix });
    const busy = async () =>
      (await trail.entries('local')).filter((e) => e.reason === 'upstream_connections_busy');
    // Each refusal's entry is appended as it is answered, not awaited by the answer: read again
    // until all are in Redis, the test's timeout the only bound.
    let found = await busy();
    while (found.length < BOUND) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      found = await busy();
    }
    expect(await busy()).toHaveLength(BOUND);
    expect((await busy())[0]).toMatchObject({ tool: 'egress', decision: 'deny' });
  }, 30_000);
});

describe('CONNECT: a tenant holds at most BULKHEAD_EGRESS_MAX_CONNECTIONS tunnels', () => {
  const MAX_CONNECTIONS = 3;
  let upstreams: CountingUpstreams;
  let neighbour: CountingUpstreams;
  let local: LocalEgress;

  beforeAll(async () => {
    upstreams = await countingUpstreams(1, { hold: true });
    neighbour = await countingUpstreams(1, { hold: true });
    local = await startLocalEgress({
      label: 'egress-tunnel-bound',
      egress: allow([`127.0.0.1:${upstreams.ports[0]}`]),
      others: { neighbour: allow([`127.0.0.1:${neighbour.ports[0]}`]) },
      poolSize: 2,
      maxConnections: MAX_CONNECTIONS,
    });
  });

  afterAll(async () => {
    for (const socket of opened) socket.destroy();
    await local?.close();
    await upstreams?.close();
    await neighbour?.close();
  });

  it('opens no more tunnels than its connections in use may be, its idle ones included; another tenant’s opens', async () => {
    const target = upstreams.ports[0]!;
    // Held open: past the bound, the bridge waits for a gateway connection (2 s), then answers 503.
    const statuses = await Promise.all(
      Array.from({ length: 2 * MAX_CONNECTIONS }, () => tunnel(local.port, target)),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(MAX_CONNECTIONS);
    expect(statuses.filter((status) => status === 503)).toHaveLength(MAX_CONNECTIONS);
    expect(upstreams.meter.max).toBe(MAX_CONNECTIONS);
    expect(local.gateway.stats('local')?.inUse).toBe(MAX_CONNECTIONS);
    expect(await tunnel(local.ports.neighbour!, neighbour.ports[0]!)).toBe(200);
  }, 30_000);
});
