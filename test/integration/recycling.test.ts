// Recycling on a spec change while calls keep coming: routers are told first (epoch), the old
// container drains what it is running, the fresh one takes every new call; no call fails.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANS } from '../../tenants/contracts/tenant-spec.ts';
import {
  agentClient,
  containerId,
  containerName,
  volumeTitles,
  write,
  type WriteOutcome,
} from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('recycle', { supervisor: { healthIntervalMs: 3_600_000 } });
  await stack.onboard('morph');
});

afterAll(async () => {
  await stack?.close();
});

describe('recycling', () => {
  it('recycles on a spec change without failing any call in flight', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => agentClient(stack, 'morph')));
    expect((await write(clients[0]!, 'warm-up')).ok).toBe(true);
    const before = await containerId(stack, 'morph');

    let running = true;
    const outcomes: (WriteOutcome & { title: string })[] = [];
    const callers = clients.map(async (client, c) => {
      for (let i = 0; running && i < 2_000; i++) {
        const title = `c${c}-${i}`;
        outcomes.push({ ...(await write(client, title)), title });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The operator changes the tenant's plan: the spec hash no longer matches the container's label.
    const redis = new Redis(stack.ns.installation.redis);
    const key = `${stack.ns.installation.registryPrefix}:tenant:morph`;
    const record = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
    await redis.set(key, JSON.stringify({ ...record, plan: PLANS.standard }));
    redis.disconnect();
    await stack.supervisor.health.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all(callers);

    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId: 'morph',
      reason: 'spec changed',
    });
    const after = await stack.ns.docker.getContainer(containerName(stack, 'morph')).inspect();
    expect(after.Id).not.toBe(before);
    expect(after.HostConfig.Memory).toBe(PLANS.standard.memoryMb * 1024 * 1024);
    expect(after.Config.Labels['io.bulkhead.generation']).toBe('2');
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    // Every answered write is in the volume exactly once.
    const titles = await volumeTitles(stack, 'morph');
    for (const o of outcomes) expect(titles.filter((t) => t === o.title)).toHaveLength(1);
    await Promise.all(clients.map((c) => c.close()));
  }, 60_000);
});
