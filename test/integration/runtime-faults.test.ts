// Faults on the real engine: a container killed in the middle of a write call, a runtime that
// freezes (fails its MCP-level health check) and one that crash-loops (the circuit opens).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { CircuitOpenError, CrashBreaker } from '../../supervisor/lifecycle/crash-breaker.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { agentClient, containerId, containerName, volumeTitles, write } from '../support/mcp-client.ts';
import { RUNTIME_IMAGE, execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';

const CALL_TIMEOUT_MS = 3_000;
let stack: TestStack;

beforeAll(async () => {
  // Health passes are driven by the tests themselves (runOnce), not by the clock.
  stack = await startTestStack('faults', {
    callTimeoutMs: CALL_TIMEOUT_MS,
    supervisor: { healthIntervalMs: 3_600_000, drainSeconds: 2 },
  });
  await Promise.all([stack.onboard('crashy'), stack.onboard('frozen')]);
});

afterAll(async () => {
  await stack?.close();
});

describe('runtime faults', () => {
  it('a container killed mid-write: transient error in time, next call on a fresh container, written at most once', async () => {
    const client = await agentClient(stack, 'crashy');
    expect((await write(client, 'before')).ok).toBe(true);
    const victim = await containerId(stack, 'crashy');
    const container = stack.ns.docker.getContainer(containerName(stack, 'crashy'));
    // Freeze it so that the write is provably in flight (delivered, unanswered), then kill it.
    await container.pause();
    const call = write(client, 'in-flight');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await container.kill();
    const outcome = await call;
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatchObject({ error_class: 'transient', retryable: true });
    expect(outcome.error?.retry_after_ms).toBeGreaterThan(0);
    expect(outcome.ms).toBeLessThan(CALL_TIMEOUT_MS + 1_000);

    const after = await write(client, 'after');
    expect(after).toMatchObject({ ok: true });
    const fresh = await containerId(stack, 'crashy');
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(victim);
    const titles = await volumeTitles(stack, 'crashy');
    expect(titles.filter((t) => t === 'in-flight').length).toBeLessThanOrEqual(1);
    expect(titles.filter((t) => t === 'before')).toHaveLength(1);
    expect(titles.filter((t) => t === 'after')).toHaveLength(1);
    await client.close();
  });

  it('recycles a runtime that stops answering its MCP-level health check', async () => {
    const client = await agentClient(stack, 'frozen');
    expect((await write(client, 'one')).ok).toBe(true);
    const before = await containerId(stack, 'frozen');
    // A wedged server process (SIGSTOP, inside a container the engine still reports as running):
    // its socket accepts connections and never answers.
    const stopped = await execIn(stack.ns.docker, before!, [
      '/bin/sh',
      '-c',
      'for p in /proc/[0-9]*; do [ "${p#/proc/}" != $$ ] && grep -qa app/server $p/cmdline && kill -STOP ${p#/proc/} && echo stopped; done',
    ]);
    expect(stopped.output).toContain('stopped');
    await stack.supervisor.health.runOnce();
    await stack.supervisor.health.runOnce();
    expect(stack.supervisor.health.recycled.entries).toContainEqual({
      tenantId: 'frozen',
      reason: 'failed 2 health checks',
    });
    const after = await containerId(stack, 'frozen');
    expect(after).not.toBe(before);
    const state = await stack.ns.docker.getContainer(containerName(stack, 'frozen')).inspect();
    expect(state.State.Running && !state.State.Paused).toBe(true);
    expect(await write(client, 'two')).toMatchObject({ ok: true });
    await client.close();
  });

  it('a crash-looping runtime opens its circuit: callers get retry_after_ms at once, no new container', async () => {
    // A namespace of its own: in the stack's, its reconciler (every 30 s) would remove this unregistered
    // tenant's container as an orphan while the test inspects it.
    const driver = new DockerDriver({
      namespace: `${stack.ns.namespace}-loop`,
      runDir: `${stack.ns.runDir}/loop`,
      routerGid: 0,
      logger: pino({ level: 'silent' }),
    });
    // A runtime that cannot start: the router key is garbage, so the process exits at once.
    const manager = new RuntimeController({
      driver,
      image: RUNTIME_IMAGE,
      routerPublicKey: 'not a key',
      logger: pino({ level: 'silent' }),
      settings: lifecycleSettings({ healthTimeoutMs: 10_000 }),
      breaker: new CrashBreaker({ threshold: 3, baseBackoffMs: 5_000 }),
    });
    const tenant = tenantRecord('looper', { uid: 100_777 });
    try {
      for (let i = 0; i < 3; i++) await expect(manager.ensure(tenant)).rejects.toThrow(/exited during start/);
      const lastContainer = (await driver.inspect('looper'))?.runtimeId;
      const started = performance.now();
      const error = await manager.ensure(tenant).catch((e: unknown) => e);
      // Refused without trying: far sooner than the 10 s health timeout a start attempt would wait for.
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(1_000);
      const info = await driver.inspect('looper');
      expect(info?.state).toBe('stopped');
      // The open circuit made no new container.
      expect(info?.runtimeId).toBe(lastContainer);
    } finally {
      await driver.remove('looper', { purgeData: true });
    }
  });
});
