// Recycling on a spec change while calls keep coming: routers are told first (epoch), the old
// container drains what it is running, the fresh one takes every new call; no call fails.
import { EventEmitter, once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
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

    // Callers write without pause from before the recycle until each has had writes answered by the
    // fresh container: what proves "no call in flight failed" is the overlap, not a count of calls
    // (a count depends on how fast a loaded machine runs them).
    let recycleEndedAt = Number.POSITIVE_INFINITY;
    const outcomes: (WriteOutcome & { title: string; startedAt: number; endedAt: number })[] = [];
    const answeredAfter = (c: number, t: number) =>
      outcomes.filter((o) => o.title.startsWith(`c${c}-`) && o.startedAt > t).length;
    // Every answered write is an event: the test waits on those, never on the clock.
    const answered = new EventEmitter();
    const until = async (condition: () => boolean): Promise<void> => {
      while (!condition()) await once(answered, 'write');
    };
    const callers = clients.map(async (client, c) => {
      for (let i = 0; i < 2_000 && answeredAfter(c, recycleEndedAt) < 3; i++) {
        const title = `c${c}-${i}`;
        const startedAt = performance.now();
        const outcome = await write(client, title);
        outcomes.push({ ...outcome, title, startedAt, endedAt: performance.now() });
        answered.emit('write');
      }
    });
    await until(() => [0, 1, 2].every((c) => answeredAfter(c, 0) >= 3));
    // The operator changes the tenant's plan: the spec hash no longer matches the container's label.
    const redis = new Redis(stack.ns.installation.redis);
    const key = `${stack.ns.installation.registryPrefix}:tenant:morph`;
    const record = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
    await redis.set(key, JSON.stringify({ ...record, plan: PLANS.standard }));
    redis.disconnect();
    const recycleStartedAt = performance.now();
    await stack.supervisor.health.runOnce();
    recycleEndedAt = performance.now();
    await Promise.all(callers);

    // Calls were running while the runtime was recycled, and the fresh container answered some.
    expect(outcomes.some((o) => o.startedAt < recycleEndedAt && o.endedAt > recycleStartedAt)).toBe(true);
    expect([0, 1, 2].every((c) => answeredAfter(c, recycleEndedAt) >= 3)).toBe(true);
    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId: 'morph',
      reason: 'spec changed',
    });
    const after = await stack.ns.docker.getContainer(containerName(stack, 'morph')).inspect();
    expect(after.Id).not.toBe(before);
    expect(after.HostConfig.Memory).toBe(PLANS.standard.memoryMb * 1024 * 1024);
    expect(after.Config.Labels['io.bulkhead.generation']).toBe('2');
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    // Every answered write is in the volume exactly once.
    const titles = await volumeTitles(stack, 'morph');
    for (const o of outcomes) expect(titles.filter((t) => t === o.title)).toHaveLength(1);
    await Promise.all(clients.map((c) => c.close()));
  }, 60_000);
});
