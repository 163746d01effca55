// Faults on the real engine: a container killed in the middle of a write call, a runtime that
// freezes (fails its MCP-level health check), one that crash-loops (the circuit opens), one that
// comes up and ends itself with exit 0 each time (the circuit opens too), and a
// rollout whose new runtimes cannot start, or start and then crash within the probation window (it
// halts, and stays halted across a supervisor's restart; the runtimes it has not reached keep
// serving).
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { pauseByEngine } from '../../supervisor/docker/runtime-freezer.ts';
import { CircuitOpenError, CrashBreaker } from '../../supervisor/lifecycle/crash-breaker.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { RedisRolloutLedger } from '../../supervisor/lifecycle/rollout-ledger.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { agentClient, containerId, containerName, volumeTitles, write } from '../support/mcp-client.ts';
import { RUNTIME_IMAGE, execIn } from '../support/namespace.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';

const CALL_TIMEOUT_MS = 3_000;
let stack: TestStack;
/** The stack's log, as JSON lines: the router's word on how a call to a runtime failed. */
type LogLine = { msg?: string; tenant?: string; failure?: string };
const logged: LogLine[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) =>
      done(void logged.push(JSON.parse(chunk.toString()) as LogLine)),
  });
  // Health passes are driven by the tests themselves (runOnce), not by the clock.
  stack = await startTestStack('faults', {
    logger: pino({ level: 'warn' }, sink),
    callTimeoutMs: CALL_TIMEOUT_MS,
    supervisor: { healthIntervalMs: 3_600_000, drainSeconds: 2 },
  });
  await Promise.all([stack.onboard('crashy'), stack.onboard('frozen')]);
});

afterAll(async () => {
  await stack?.close();
});

/**
 * A driver in a namespace of its own, for tenants in no registry: in the stack's, its reconciler
 * (every 30 s) would remove their containers as orphans while a test inspects them.
 */
function driverOfItsOwn(name: string): DockerDriver {
  return new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: `${stack.ns.namespace}-${name}`,
    runDir: `${stack.ns.runDir}/${name}`,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
}

describe('runtime faults', () => {
  it('a container killed mid-write: transient error in time, next call on a fresh container, written at most once', async () => {
    const client = await agentClient(stack, 'crashy');
    expect((await write(client, 'before')).ok).toBe(true);
    const victim = await containerId(stack, 'crashy');
    const container = stack.ns.docker.getContainer(containerName(stack, 'crashy'));
    // Freeze it so that the write is provably in flight (delivered, unanswered), then kill it.
    await pauseByEngine(container);
    const call = write(client, 'in-flight');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await container.kill();
    const outcome = await call;
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatchObject({ error_class: 'transient', retryable: true });
    expect(outcome.error?.retry_after_ms).toBeGreaterThan(0);
    // Ended by the kill (its connection closed under it), not by the call's deadline: the router
    // tells the two apart, and a timed-out call would be logged `timed_out`.
    expect(logged.filter((l) => l.msg === 'runtime failed during a call' && l.tenant === 'crashy')).toEqual([
      expect.objectContaining({ failure: 'interrupted' }),
    ]);

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
    const driver = driverOfItsOwn('loop');
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
      const startedAt = async () =>
        (await stack.ns.docker.getContainer(lastContainer!).inspect()).State.StartedAt;
      const lastStart = await startedAt();
      const error = await manager.ensure(tenant).catch((e: unknown) => e);
      // Refused without trying: no start of the last container (the engine's start time is its
      // last failed one) nor a new one, where a start attempt would fail `exited during start`.
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect(await startedAt()).toBe(lastStart);
      expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(1_000);
      const info = await driver.inspect('looper');
      expect(info?.state).toBe('stopped');
      // The open circuit made no new container.
      expect(info?.runtimeId).toBe(lastContainer);
    } finally {
      await driver.remove('looper', { purgeData: true });
    }
  });

  it('a runtime that comes up and then ends itself with exit 0, again and again, backs off; one stopped idle wakes', async () => {
    const driver = driverOfItsOwn('selfend');
    const manager = new RuntimeController({
      driver,
      image: RUNTIME_IMAGE,
      routerPublicKey: ed25519PublicKey(),
      logger: pino({ level: 'silent' }),
      settings: lifecycleSettings({ healthTimeoutMs: 10_000, stopGraceSeconds: 2 }),
      breaker: new CrashBreaker({ threshold: 3, baseBackoffMs: 5_000 }),
    });
    const ender = tenantRecord('selfender', { uid: 100_800 });
    const idler = tenantRecord('idler', { uid: 100_801 });
    try {
      for (let i = 0; i < 3; i++) {
        const { info } = await manager.ensureRuntime(ender);
        // Its own clean end, as a pack that signals the runtime (unconfined under gVisor) makes it:
        // SIGTERM, the runtime's drain, exit 0. Nobody asked it to stop.
        const container = stack.ns.docker.getContainer(info.runtimeId);
        await container.kill({ signal: 'SIGTERM' });
        expect(await container.wait()).toMatchObject({ StatusCode: 0 });
      }
      const error = await manager.ensure(ender).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((await driver.inspect('selfender'))?.state).toBe('stopped');
      // Stopped by the idle tier as often, and ended with exit 0 too: woken each time, no backoff.
      const first = (await manager.ensureRuntime(idler)).info.runtimeId;
      for (let i = 0; i < 4; i++) {
        expect(await manager.idle('idler', { event: 'stop' })).toBe(true);
        expect((await driver.inspect('idler'))?.exit?.code).toBe(0);
        // Started again in place, not replaced as a crash would be.
        expect((await manager.ensureRuntime(idler)).info.runtimeId).toBe(first);
      }
    } finally {
      await Promise.all([
        driver.remove('selfender', { purgeData: true }),
        driver.remove('idler', { purgeData: true }),
      ]);
    }
  });

  it('a rollout whose new runtimes cannot start halts, after a restart too: the runtimes it has not reached keep serving', async () => {
    // A new version of the supervisor whose runtimes exit at start (the router key it hands them
    // is garbage, and the key is part of every runtime's spec).
    const r = await rollout('roll', 100_780, { to: 'not a key' });
    try {
      const health = r.monitor();
      await health.runOnce();
      await health.runOnce();
      await r.monitor().runOnce();
      // The oldest was replaced and its new runtime did not come up (then recycled for its crash,
      // never held back); the failure took the place of the next replacement, after the restart too.
      expect(health.recycled.entries[0]).toEqual({ tenantId: 'roll-1', reason: 'spec changed' });
      expect(r.passes).toEqual([
        { due: 3, failed: 1 },
        { due: 2, failed: 1 },
        { due: 2, failed: 1 },
      ]);
      await r.othersServe();
    } finally {
      await r.close();
    }
  });

  it('a rollout whose new runtime comes up and then crashes within the probation window halts, across restarts', async () => {
    const r = await rollout('late', 100_790, { to: ed25519PublicKey(), probationMs: 60_000 });
    try {
      const health = r.monitor();
      await health.runOnce();
      expect(health.recycled.entries).toEqual([{ tenantId: 'late-1', reason: 'spec changed' }]);
      const replaced = await r.driver.inspect('late-1');
      expect(await r.controller.check(replaced!, 'supervisor-health')).toBe('healthy');
      // It came up and answered; the supervisor restarts, and then the replacement's process is
      // killed (an image that fails a while in).
      const restarted = r.monitor();
      await stack.ns.docker.getContainer(replaced!.runtimeId).kill();
      await restarted.runOnce();
      // The restarted supervisor watched it from the ledger: recycled at once for the crash, and
      // counted as a failed replacement before the pass set its budget, so nothing more replaced,
      // then or after another restart, though the recycled one answers.
      expect(restarted.recycled.entries).toEqual([{ tenantId: 'late-1', reason: 'crashed (exit 137)' }]);
      await r.monitor().runOnce();
      expect(r.passes).toEqual([
        { due: 3, failed: 0 },
        { due: 2, failed: 1 },
        { due: 2, failed: 1 },
      ]);
      const recycled = await r.driver.inspect('late-1');
      expect(recycled?.runtimeId).not.toBe(replaced!.runtimeId);
      expect(await r.controller.check(recycled!, 'supervisor-health')).toBe('healthy');
      await r.othersServe();
    } finally {
      await r.close();
    }
  });
});

function ed25519PublicKey(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Three tenants `<name>-1..3` up on the current version, in a driver of their own, then a health
 * pass (`monitor()`, one a pass; a second one is a restarted supervisor's, on the same Redis
 * ledger) whose controller hands runtimes another router key (`to`): every tenant's spec changes.
 */
async function rollout(name: string, uid: number, options: { to: string; probationMs?: number }) {
  const driver = driverOfItsOwn(name);
  const controllerWith = (routerPublicKey: string) =>
    new RuntimeController({
      driver,
      image: RUNTIME_IMAGE,
      routerPublicKey,
      logger: pino({ level: 'silent' }),
      settings: lifecycleSettings({ healthTimeoutMs: 10_000 }),
    });
  const tenants = [1, 2, 3].map((n) => tenantRecord(`${name}-${n}`, { uid: uid + n - 1 }));
  const current = controllerWith(ed25519PublicKey());
  for (const tenant of tenants) await current.ensure(tenant);
  const running = await Promise.all(tenants.map(async (t) => (await driver.inspect(t.id))?.runtimeId));
  const passes: { due: number; failed: number }[] = [];
  const redis = new Redis(stack.ns.installation.redis);
  const controller = controllerWith(options.to);
  const monitor = () =>
    new HealthMonitor({
      view: driver,
      controller,
      tenants: { get: (id) => Promise.resolve(tenants.find((t) => t.id === id)) },
      replacementsPerPass: 1,
      probationMs: options.probationMs,
      onPass: (pass) => passes.push(pass),
      ledger: new RedisRolloutLedger({ redis, prefix: `${stack.ns.installation.registryPrefix}:${name}` }),
    });
  return {
    driver,
    controller,
    monitor,
    passes,
    /** The tenants the rollout did not reach keep their containers, answering their probes. */
    othersServe: async () => {
      for (const [at, tenant] of tenants.entries())
        if (at > 0) {
          const info = await driver.inspect(tenant.id);
          expect(info?.runtimeId).toBe(running[at]);
          expect(await current.check(info!, 'supervisor-health')).toBe('healthy');
        }
    },
    close: async () => {
      redis.disconnect();
      await Promise.all(tenants.map((t) => driver.remove(t.id, { purgeData: true })));
    },
  };
}
