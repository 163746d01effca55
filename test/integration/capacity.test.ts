// Capacity on the real engine: single flight for one tenant, a cap on concurrent creates for a
// burst of tenants (counted from the engine's event stream), and per-tenant metrics.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsKey } from '../../kernel/redis/keys.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { watchCreates } from '../support/engine-events.ts';
import { agentClient, write } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const CREATE_LIMIT = 3;
// Four times the cap: enough to queue. Every ensure of the burst is submitted at once and waits
// within the runtime client's job deadline (60 s), so the last one waits for the whole burst: 30
// tenants took 19 s at a load average of 5 to 11, and a CI run at a higher load once saw one
// refused (why was not recorded then; a refusal is now printed with its reason).
const BURST = 4 * CREATE_LIMIT;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('capacity', {
    supervisor: { createLimit: CREATE_LIMIT, healthIntervalMs: 3_600_000, metricsPort: 0 },
  });
});

afterAll(async () => {
  await stack?.close();
});

describe('capacity', () => {
  it('twenty concurrent first calls for one tenant create exactly one container', async () => {
    await stack.registry.create({
      id: 'single',
      plan: planByName('small'),
      isolation: 'runc',
      tools: openToAgentsAlone('all'),
    });
    const watch = await watchCreates(stack.ns.docker, stack.ns.namespace);
    const clients = await Promise.all(Array.from({ length: 20 }, () => agentClient(stack, 'single')));
    const outcomes = await Promise.all(clients.map((c, i) => write(c, `first-${i}`)));
    watch.stop();
    expect(outcomes.filter((o) => o.ok)).toHaveLength(20);
    expect(watch.creates.get('single')).toBe(1);
    await Promise.all(clients.map((c) => c.close()));
  });

  it(`a burst of ${BURST} tenants never has more creates in flight than the cap`, async () => {
    const ids = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
    for (const id of ids)
      await stack.registry.create({
        id,
        plan: planByName('small'),
        isolation: 'runc',
        tools: openToAgentsAlone('all'),
      });
    const watch = await watchCreates(stack.ns.docker, stack.ns.namespace);
    const limiter = stack.supervisor.createLimiter;
    const admittedBefore = limiter.admitted;
    const results = await Promise.allSettled(ids.map((id) => stack.runtimes.ensure(id)));
    watch.stop();
    // Each refusal with its tenant and why, so that a failure says which and what.
    const refused = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${ids[i]}: ${String(r.reason)}`] : [],
    );
    expect(refused).toEqual([]);
    expect([...watch.creates.entries()].filter(([t]) => t.startsWith('burst-'))).toHaveLength(BURST);
    expect(watch.maxInFlight()).toBeLessThanOrEqual(CREATE_LIMIT);
    expect(limiter.maxInFlight).toBe(CREATE_LIMIT); // the burst did reach the cap, and queued
    expect(limiter.admitted - admittedBefore).toBe(BURST);
  }, 180_000);

  it('exports memory and CPU of each tenant container (Redis snapshot and /metrics)', async () => {
    await stack.supervisor.publishMetrics();
    const redis = new Redis(stack.ns.installation.redis);
    const snapshot = await redis.hgetall(metricsKey(stack.ns.installation.registryPrefix));
    redis.disconnect();
    const single = JSON.parse(snapshot.single ?? '{}') as {
      memoryBytes: number;
      cpuSeconds: number;
      pids: number;
    };
    expect(single.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(single.cpuSeconds).toBeGreaterThan(0);
    expect(single.pids).toBeGreaterThan(0);
    expect(Object.keys(snapshot)).toHaveLength(BURST + 1);
    const text = await (await fetch(stack.supervisor.metricsUrl!)).text();
    expect(text).toMatch(/bulkhead_runtime_memory_bytes\{tenant="burst-7",state="running"\} [1-9]\d+/);
    expect(text).toContain(`bulkhead_creates_max_in_flight ${CREATE_LIMIT}`);
    const client = await agentClient(stack, 'burst-7');
    expect((await write(client, 'after-burst')).ok).toBe(true);
    await client.close();
  });
});
