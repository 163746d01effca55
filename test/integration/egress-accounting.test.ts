// What the egress gateway charges and records, against the real gateway, bridges and Redis
// (test/support/egress.ts): a request refused at its tenant's bound on upstream connections
// (upstream_connections_busy) never reached the upstream, and leaves the upstream's shared budget
// as it was; a CONNECT tunnel is on the tenant's trail as it opens, not only at its close: while it
// is held open, and after a gateway killed with it open, which never closes it.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, type AuditEntry } from '../../kernel/audit/audit-trail.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { setUpstreamBudget } from '../../kernel/ratelimit/upstream-budgets.ts';
import type { Installation } from '../../kernel/tenant/installation.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { getOnce, spawnLocalEgress, startLocalEgress, type LocalEgress } from '../support/egress.ts';
import { until } from '../support/until.ts';

const ANSWER = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok';

/** A loopback upstream that holds every request it gets unanswered until release(). */
async function holdingUpstream() {
  const held: Socket[] = [];
  const accepted = new Set<Socket>();
  let told: (() => void) | undefined;
  const server = createServer((socket) => {
    accepted.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (!chunk.includes('\r\n\r\n')) return;
      held.push(socket);
      told?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    /** Resolves once it holds `count` requests. */
    holding: (count: number) =>
      new Promise<void>((resolve) => {
        told = () => held.length >= count && resolve();
        told();
      }),
    release: () => held.splice(0).forEach((socket) => socket.write(ANSWER)),
    close: async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A CONNECT to `target` through a bridge port, left open: resolves with its socket once answered 200. */
function openTunnel(port: number, target: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`),
    );
    let raw = '';
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (!raw.includes('\r\n\r\n')) return;
      if (raw.startsWith('HTTP/1.1 200')) resolve(socket);
      else reject(new Error(`tunnel refused: ${raw}`));
    });
  });
}

/**
 * The tenant's trail once `done` holds for it. Each entry is appended as its request is answered,
 * not awaited by the answer: read again until it holds, the test's timeout the only bound.
 */
async function trailUntil(
  inst: Installation,
  redis: Redis,
  done: (entries: AuditEntry[]) => boolean,
): Promise<AuditEntry[]> {
  const trail = new AuditTrail({ redis, prefix: inst.registryPrefix });
  let entries: AuditEntry[] = [];
  await until(async () => done((entries = await trail.entries('local'))), 'the trail entries awaited', 20);
  return entries;
}

const reasons = (entries: AuditEntry[], reason: string) => entries.filter((e) => e.reason === reason);

describe('a request refused at the upstream-connection bound', () => {
  // One call per 15 s: what the test reads of the budget does not move while it runs.
  const LIMIT = 4;
  const REFUSED = LIMIT - 1;
  let slow: Awaited<ReturnType<typeof holdingUpstream>>;
  let local: LocalEgress;

  beforeAll(async () => {
    slow = await holdingUpstream();
    const egress: EgressPolicy = {
      mode: 'allowlist',
      hosts: [],
      packs: {},
      upstreams: { slowapi: { hosts: [`127.0.0.1:${slow.port}`] } },
    };
    local = await startLocalEgress({ label: 'egress-refund', egress, maxUpstreamSockets: 1 });
    const prefix = local.ns.installation.registryPrefix;
    await setUpstreamBudget({ redis: local.redis, prefix, upstream: 'slowapi', callsPerMinute: LIMIT });
  });

  afterAll(async () => {
    slow?.release();
    await local?.close();
    await slow?.close();
  });

  it("spends none of the upstream's budget: only the call that reached it is charged", async () => {
    /** One plain GET through the bridge on a new connection, as Node's proxy support sends it: its status. */
    const get = () =>
      getOnce({ host: '127.0.0.1', port: local.port, path: `http://127.0.0.1:${slow.port}/` });
    // The tenant's one upstream connection, held by the upstream.
    const first = get();
    await slow.holding(1);
    for (let i = 0; i < REFUSED; i++) expect(await get()).toBe(502);
    // A refusal's budget is given back before its audit entry goes, on the same Redis connection.
    await trailUntil(
      local.ns.installation,
      local.redis,
      (e) => reasons(e, 'upstream_connections_busy').length === REFUSED,
    );
    const limiter = new RateLimiter({ redis: local.redis, prefix: local.ns.installation.registryPrefix });
    const budget = await limiter.takeUpstreams(['slowapi'], { peek: true });
    expect(budget.layers[0]).toMatchObject({ upstream: 'slowapi', limit: LIMIT, remaining: LIMIT - 1 });
    slow.release();
    expect(await first).toBe(200);
    // What the refusals left is there to spend: the budget's last calls reach the upstream.
    for (let i = 1; i < LIMIT; i++) {
      const next = get();
      await slow.holding(1);
      slow.release();
      expect(await next).toBe(200);
    }
    expect(await get()).toBe(429);
  }, 30_000);
});

describe('a CONNECT tunnel', () => {
  let upstream: Awaited<ReturnType<typeof holdingUpstream>>;
  let redis: Redis;

  beforeAll(async () => {
    upstream = await holdingUpstream();
  });

  afterAll(async () => {
    redis?.disconnect();
    await upstream?.close();
  });

  const egress = (): EgressPolicy => ({
    mode: 'allowlist',
    hosts: [],
    packs: {},
    upstreams: { held: { hosts: [`127.0.0.1:${upstream.port}`] } },
  });

  it('is on the trail as it opens, while it is held open, and again at its close', async () => {
    const local = await startLocalEgress({ label: 'egress-tunnel-open', egress: egress() });
    try {
      const target = `127.0.0.1:${upstream.port}`;
      const tunnel = await openTunnel(local.port, target);
      const inst = local.ns.installation;
      const open = await trailUntil(inst, local.redis, (e) => reasons(e, 'tunnel_opened').length > 0);
      expect(tunnel.destroyed).toBe(false);
      expect(reasons(open, 'tunnel')).toEqual([]);
      expect(reasons(open, 'tunnel_opened')[0]).toMatchObject({
        tool: 'egress',
        decision: 'permit',
        upstream: {
          host: '127.0.0.1',
          port: upstream.port,
          method: 'CONNECT',
          status: 200,
          pack: null,
          upstream: 'held',
        },
      });
      tunnel.destroy();
      const closed = await trailUntil(inst, local.redis, (e) => reasons(e, 'tunnel').length > 0);
      expect(reasons(closed, 'tunnel_opened')).toHaveLength(1);
      expect(reasons(closed, 'tunnel')[0]!.upstream).toMatchObject({
        method: 'CONNECT',
        status: 200,
        upstream: 'held',
      });
    } finally {
      await local.close();
    }
  }, 30_000);

  it('is on the trail of a gateway killed while it was open', async () => {
    const gateway = await spawnLocalEgress({ label: 'egress-tunnel-kill', egress: egress() });
    try {
      const tunnel = await openTunnel(gateway.ports.local!, `127.0.0.1:${upstream.port}`);
      redis = new Redis(gateway.installation.redis);
      // The opening's entry may still be on its way to Redis: killed only once it is there, as a
      // gateway killed at any later moment of the tunnel's life.
      await trailUntil(gateway.installation, redis, (e) => reasons(e, 'tunnel_opened').length > 0);
      gateway.child.kill('SIGKILL');
      await new Promise((resolve) => tunnel.once('close', resolve));
      const entries = await new AuditTrail({ redis, prefix: gateway.installation.registryPrefix }).entries(
        'local',
      );
      expect(entries.map((e) => e.reason)).toEqual(['tunnel_opened']);
    } finally {
      await gateway.stop();
    }
  }, 30_000);
});
