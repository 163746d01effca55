// Hostile tenants on the real engine: a fork bomb stopped by the PIDs limit and a memory hog
// stopped by the memory limit, inside the victim's container. Another tenant's calls keep
// succeeding throughout, and the supervisor's health pass recycles the victim. Both limits are
// shown by the kernel's own counters (forks refused, memory high-water mark), never by a sample.
// A CPU hog is held to its plan's quota: it never gets more CPU than the plan grants, the kernel's
// throttled time grows where the machine has CPU to give it, and the supervisor's metrics show it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient, containerId, write } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { readPidsCgroup } from '../../supervisor/docker/cgroup-pids.ts';
import { CPU_PERIOD_US } from '../../supervisor/runtime/runtime-cpu.ts';
import { scrape, total } from '../support/prometheus-text.ts';

/** The CPU hog's measured window, at least: six of the quota's periods. */
const WINDOW_S = 6;

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('limits', {
    supervisor: { healthIntervalMs: 3_600_000, drainSeconds: 1, metricsPort: 0 },
  });
  await Promise.all(['bomber', 'hog', 'spinner', 'bystander'].map((tenant) => stack.onboard(tenant)));
});

afterAll(async () => {
  await stack?.close();
});

/** Writes for the bystander while `during` runs; every one must succeed. */
async function bystanderWritesDuring(during: Promise<unknown>): Promise<number> {
  const client = await agentClient(stack, 'bystander');
  let done = false;
  void during.finally(() => (done = true));
  let count = 0;
  for (let i = 0; i < 500 && (!done || count < 5); i++) {
    const outcome = await write(client, `bystander-${Date.now()}-${i}`);
    expect(outcome).toMatchObject({ ok: true });
    count += 1;
  }
  await during;
  await client.close();
  return count;
}

describe('resource limits', () => {
  it('stops a fork bomb at the PIDs limit; the bystander is unaffected; the victim is recycled', async () => {
    const victim = (await containerId(stack, 'bomber'))!;
    const { State } = await stack.ns.docker.getContainer(victim).inspect();
    const before = await readPidsCgroup(State.Pid, victim);
    expect(before, 'the pids cgroup of the container, read from the host').toBeDefined();
    expect(before).toMatchObject({ max: PLANS.small.pids, refused: 0 });
    const bomb = (async () => {
      // Every process forks two more and then holds its PID: exponential, bounded by the PIDs
      // limit; the recycle below kills what is left.
      let bombOver = false;
      void execIn(stack.ns.docker, victim, ['/bin/sh', '-c', 'f() { f | f & sleep 60; }; f'])
        .catch(() => undefined)
        .finally(() => (bombOver = true));
      // The kernel counts every fork refused at the limit; the counter only grows, so waiting for
      // it cannot miss the moment the way a sampled process count can under load. The wait ends
      // with the bomb itself (its exec ends once its processes have slept out): a loaded machine only
      // slows both, never cuts the wait short.
      let seen = before!;
      while (seen.refused === 0 && !bombOver) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen = (await readPidsCgroup(State.Pid, victim)) ?? seen;
        expect(seen.current).toBeLessThanOrEqual(PLANS.small.pids);
      }
      // The supervisor reads the same counter; its health pass runs once the limit has bitten
      // (in production: every 10 s).
      expect((await stack.supervisor.driver.usage('bomber'))?.pidsRefused).toBeGreaterThan(0);
      await stack.supervisor.health.runOnce();
      return seen;
    })();
    await bystanderWritesDuring(bomb);
    const seen = await bomb;
    expect(seen.refused).toBeGreaterThan(0);
    // Where the kernel keeps a high-water mark: the bomb filled the limit and never passed it.
    if (seen.peak !== undefined) expect(seen.peak).toBe(PLANS.small.pids);

    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId: 'bomber',
      reason: 'PIDs limit reached',
    });
    expect(await containerId(stack, 'bomber')).not.toBe(victim);
    const client = await agentClient(stack, 'bomber');
    expect((await write(client, 'after-bomb')).ok).toBe(true);
    await client.close();
  }, 150_000);

  it('stops a memory hog at the memory limit; the bystander is unaffected; the victim is recycled', async () => {
    const victim = (await containerId(stack, 'hog'))!;
    // 1 MiB at a time until the cgroup's OOM killer steps in (128 MiB plan, no swap).
    const hog = execIn(stack.ns.docker, victim, [
      'node',
      '-e',
      'const a = []; for (let i = 0; i < 4096; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log("survived")',
    ]);
    await bystanderWritesDuring(hog);
    const { exitCode, output } = await hog;
    expect(output).not.toContain('survived');
    expect(exitCode).not.toBe(0);
    const usage = await stack.supervisor.driver.usage('hog');
    expect(usage?.memoryPeakBytes).toBe(PLANS.small.memoryMb * 1024 * 1024);

    await stack.supervisor.health.runOnce();
    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId: 'hog',
      reason: 'memory limit reached',
    });
    expect(await containerId(stack, 'hog')).not.toBe(victim);
    const client = await agentClient(stack, 'hog');
    expect((await write(client, 'after-hog')).ok).toBe(true);
    await client.close();
  }, 60_000);

  it("holds a CPU hog to its plan's quota: the kernel's throttled time grows and the supervisor shows it", async () => {
    const victim = (await containerId(stack, 'spinner'))!;
    const usage = async () => (await stack.supervisor.driver.usage('spinner'))!;
    const first = await usage();
    const before = first.cpuThrottledSeconds;
    const startedAt = performance.now();
    // Three threads spinning for up to 20 s want three CPUs; the plan grants half of one per second.
    let spinOver = false;
    void execIn(stack.ns.docker, victim, [
      'node',
      '-e',
      `const { Worker } = require('node:worker_threads');
       const spin = 'const end = Date.now() + 20000; while (Date.now() < end) {}';
       for (let i = 0; i < 2; i++) new Worker(spin, { eval: true });
       eval(spin);`,
    ])
      .catch(() => undefined)
      .finally(() => (spinOver = true));
    // The kernel's counter only grows: waiting for a second of it ends with the hog at the latest
    // (held to half a CPU, it waits about half of every second). And at least WINDOW_S, so that
    // the edges of the quota's periods (below) weigh little against the window.
    let last = first;
    const elapsed = () => (performance.now() - startedAt) / 1000;
    while ((last.cpuThrottledSeconds < before + 1 || elapsed() < WINDOW_S) && !spinOver) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      last = await usage();
    }
    const now = last.cpuThrottledSeconds;
    // The quota itself: the plan's CPUs a period (CPU_PERIOD_US, 1 s), which the hog's threads
    // can spend at any moment of it. A window cuts a period at each edge, and each cut period may
    // hold its whole quota: at most two periods' quota more than the window's own (a 2 s window
    // came out at 1.31 CPU-seconds, 0.65 of a CPU), and the kernel's runtime slices (5 ms a CPU) on
    // top. A hog without the quota would take two CPUs, 12 CPU-seconds in the window.
    const quota = PLANS.small.cpus;
    const period = CPU_PERIOD_US / 1e6;
    const seconds = elapsed();
    const used = last.cpuSeconds - first.cpuSeconds;
    const rate = used / seconds;
    expect(used).toBeLessThanOrEqual(quota * (seconds + 2 * period) + 0.05);
    // Throttled only in a period where the hog reaches its quota, for what is left of that period:
    // on a machine so busy that the container gets less than that (every process here competes with
    // it; seen at load 30), the kernel has nothing to hold back, and the rate above is all there is
    // to see. Near the quota on average, some periods reach it, though perhaps only late: at load 10,
    // a hog held to 0.4 of a CPU and more was throttled 0.27 s in 20 s, not the second awaited above.
    if (rate >= quota * 0.8) expect(now).toBeGreaterThan(before);
    else expect(now).toBeGreaterThanOrEqual(before);
    const metrics = await scrape(stack.supervisor.metricsUrl!);
    expect(
      total(metrics, 'bulkhead_runtime_cpu_throttled_seconds_total', { tenant: 'spinner' }),
    ).toBeGreaterThanOrEqual(now);
    expect(
      total(metrics, 'bulkhead_runtime_cpu_throttled_seconds_total', { tenant: 'bystander' }),
    ).toBeLessThan(Math.max(now, 0.001));
  }, 60_000);
});
