// A hostile tenant that breaks its runtime while it runs, again and again, on the real engine: each
// runtime comes up and answers, then the tenant's code fork-bombs it to its PIDs limit. The health
// pass recycles the first two (each a new container: engine work and a create-cap slot another
// tenant's start waits for); the third opens the tenant's crash circuit, so it is removed and not
// replaced, and the tenant's next call gets the backoff instead of a fourth container.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient, containerId, write } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('failcircuit', {
    // The circuit's first backoff long enough that the call after it is refused on a loaded machine.
    supervisor: { healthIntervalMs: 3_600_000, drainSeconds: 1, crashBackoffMs: 60_000 },
  });
  await stack.onboard('bomber');
});

afterAll(async () => {
  await stack?.close();
});

/** A fork bomb in the tenant's container, until the kernel refuses a fork at its PIDs limit. */
async function bombToTheLimit(container: string): Promise<void> {
  let over = false;
  void execIn(stack.ns.docker, container, ['/bin/sh', '-c', 'f() { f | f & sleep 60; }; f'])
    .catch(() => undefined)
    .finally(() => (over = true));
  // The counter only grows; the wait ends with the bomb itself at the latest (its processes sleep out).
  while (!over && !((await stack.supervisor.driver.usage('bomber'))?.pidsRefused ?? 0)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect((await stack.supervisor.driver.usage('bomber'))?.pidsRefused).toBeGreaterThan(0);
}

describe('a runtime broken again and again while it runs', () => {
  it('is replaced twice, then removed without a replacement, and calls get the backoff', async () => {
    const client = await agentClient(stack, 'bomber');
    const containers: string[] = [];
    for (let round = 0; round < 3; round++) {
      // The runtime is up and answers: the tenant's write goes through.
      expect(await write(client, `round-${round}`)).toMatchObject({ ok: true });
      const container = (await containerId(stack, 'bomber'))!;
      containers.push(container);
      await bombToTheLimit(container);
      await stack.supervisor.health.runOnce();
      expect(await containerId(stack, 'bomber')).not.toBe(container);
    }
    expect(new Set(containers).size).toBe(3);
    expect(stack.supervisor.health.recycled.entries.filter((e) => e.tenantId === 'bomber')).toHaveLength(3);
    // The third was not replaced: no container, and the next call is refused without starting one.
    expect(await containerId(stack, 'bomber')).toBeUndefined();
    const refused = await write(client, 'after-third');
    expect(refused).toMatchObject({
      ok: false,
      error: { error_class: 'transient', code: 'runtime_backoff', retryable: true },
    });
    // The whole first backoff (crashBackoffMs above) less the moments since the circuit opened.
    expect(refused.error?.retry_after_ms).toBeGreaterThan(30_000);
    expect(await containerId(stack, 'bomber')).toBeUndefined();
    await client.close();
  }, 240_000);
});
