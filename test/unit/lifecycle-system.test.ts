// The lifecycle as a system, not only its table: the controller, its observers (health pass, idle
// tiers, reconciliation) and the in-memory driver, driven through random sequences of commands,
// observations and engine events (crashes, hanging runtimes, spec changes), some concurrent. Every
// transition recorded must be one the table allows, every driver call that changes something must
// be the act of exactly one transition recorded just before it for that tenant, no illegal change
// may ever be attempted, and what the controller last recorded must be what the engine shows. Then
// named scenarios pin the exact event sequences of each lifecycle path.
import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { IdleReaper } from '../../supervisor/lifecycle/idle-reaper.ts';
import {
  IllegalTransitionError,
  observedState,
  TRANSITIONS,
  type LifecycleEvent,
} from '../../supervisor/lifecycle/lifecycle-state.ts';
import { reconcile } from '../../supervisor/lifecycle/reconciler.ts';
import { RuntimeController, TenantSuspendedError } from '../../supervisor/lifecycle/runtime-controller.ts';
import type { Transition } from '../../supervisor/lifecycle/controller-parts.ts';
import { MUTATING_OPS } from '../../supervisor/runtime/runtime-driver.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

const TIERS = { pauseAfterMs: 1_000, stopAfterMs: 2_000, removeAfterMs: 3_000 };
/** Which driver call each event's act makes (events without an act make none). */
const ACT_OPS: Partial<Record<LifecycleEvent, readonly string[]>> = {
  create: ['ensure'],
  wake: ['ensure', 'resume'],
  pause: ['pause'],
  stop: ['stop'],
  reap: ['remove'],
  recycle: ['remove'],
  offboard: ['remove'],
};

type Entry =
  | ({ kind: 'transition' } & Transition)
  | { kind: 'call'; op: string; tenantId: string }
  | { kind: 'crash'; tenantId: string };

/** Routers' side of the epochs, in memory: the last call per tenant and the epoch counter. */
class MemoryEpochs {
  readonly epochs = new Map<string, number>();
  readonly lastCall = new Map<string, number>();
  current(tenantId: string): Promise<number> {
    return Promise.resolve(this.epochs.get(tenantId) ?? 0);
  }
  bump(tenantId: string): Promise<number> {
    this.epochs.set(tenantId, (this.epochs.get(tenantId) ?? 0) + 1);
    return this.current(tenantId);
  }
  async bumpIfIdle(tenantId: string, idleSince: number): Promise<boolean> {
    if ((this.lastCall.get(tenantId) ?? 0) > idleSince) return false;
    await this.bump(tenantId);
    return true;
  }
  activity(): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.lastCall));
  }
}

function harness() {
  const timeline: Entry[] = [];
  type Line = { msg: string; err?: { message?: string } };
  const logs: Line[] = [];
  const logger: Logger = pino(
    { level: 'warn' },
    { write: (line: string) => logs.push(JSON.parse(line) as Line) },
  );
  const driver = new MemoryDriver(1);
  const recordCall = driver.calls.push.bind(driver.calls);
  driver.calls.push = (...calls) => {
    for (const call of calls)
      if ((MUTATING_OPS as readonly string[]).includes(call.op)) timeline.push({ kind: 'call', ...call });
    return recordCall(...calls);
  };
  const healthy = new Map<string, boolean>();
  const epochs = new MemoryEpochs();
  const controller = new RuntimeController({
    driver,
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger,
    settings: lifecycleSettings({ healthTimeoutMs: 30, routeSettleMs: 0, drainSeconds: 0 }),
    epochs,
    probe: (endpoint) =>
      Promise.resolve(
        healthy.get(endpoint.kind === 'unix' ? endpoint.socketPath.split('/')[2]! : '') ?? true,
      ),
  });
  const recordTransition = controller.transitions.push.bind(controller.transitions);
  controller.transitions.push = (t) => {
    timeline.push({ kind: 'transition', ...t });
    recordTransition(t);
  };
  const tenants = new Map<string, TenantRecord>();
  const registry = {
    get: (id: string) => Promise.resolve(tenants.get(id)),
    list: () => Promise.resolve([...tenants.values()]),
  };
  const health = new HealthMonitor({ view: driver, controller, tenants: registry });
  const idle = new IdleReaper({ view: driver, epochs, controller, tiers: TIERS, logger });
  const runReconcile = () =>
    reconcile({ view: driver, controller, tenants: registry, logger, helperGraceMs: 0 });
  const transitions = () =>
    timeline.flatMap((e) => (e.kind === 'transition' ? [`${e.from} -${e.event}-> ${e.to}`] : []));
  const calls = () => timeline.flatMap((e) => (e.kind === 'call' ? [e.op] : []));
  return {
    timeline,
    logs,
    driver,
    healthy,
    epochs,
    controller,
    tenants,
    health,
    idle,
    runReconcile,
    transitions,
    calls,
  };
}
type Harness = ReturnType<typeof harness>;

/** The system's invariants over everything one run recorded. */
function checkInvariants(h: Harness): void {
  for (const entry of h.timeline)
    if (entry.kind === 'transition')
      expect(TRANSITIONS[entry.from][entry.event], `${entry.from} -${entry.event}->`).toBe(entry.to);
  expect(h.logs.filter((l) => /illegal lifecycle transition/.test(`${l.err?.message}`))).toEqual([]);
  for (const tenantId of new Set(h.timeline.map((e) => e.tenantId))) {
    const own = h.timeline.filter((e) => e.tenantId === tenantId && e.kind !== 'crash');
    own.forEach((entry, i) => {
      if (entry.kind !== 'call') return;
      const before = own[i - 1];
      // Exactly one: the entry right before is a transition (not another call) whose act this is.
      expect(before?.kind, `${entry.op} of ${tenantId} without its transition`).toBe('transition');
      if (before?.kind === 'transition') expect(ACT_OPS[before.event]).toContain(entry.op);
    });
    // What the controller recorded last is what the engine shows, unless the engine moved since
    // (a crash) or the last state is one only the controller can know.
    const last = h.timeline.findLast((e) => e.tenantId === tenantId && e.kind !== 'call');
    if (last?.kind !== 'transition' || ['creating', 'unhealthy', 'recycling'].includes(last.to)) continue;
    const shown = observedState(h.driver.runtimes.get(tenantId));
    expect(shown).toBe(last.to === 'removed' ? 'absent' : last.to);
  }
}

const TENANTS = ['one', 'two'] as const;
const tenantArb = fc.constantFrom(...TENANTS);
const command = fc.oneof(
  fc.record({ kind: fc.constant('ensure' as const), tenant: tenantArb }),
  fc.record({ kind: fc.constant('recycle' as const), tenant: tenantArb }),
  fc.record({ kind: fc.constant('remove' as const), tenant: tenantArb, purge: fc.boolean() }),
  fc.record({
    kind: fc.constant('idle' as const),
    tenant: tenantArb,
    event: fc.constantFrom('pause', 'stop', 'reap'),
  }),
  fc.record({ kind: fc.constant('status' as const), tenant: tenantArb, active: fc.boolean() }),
  fc.record({ kind: fc.constant('respec' as const), tenant: tenantArb }),
  fc.record({ kind: fc.constant('crash' as const), tenant: tenantArb }),
  fc.record({ kind: fc.constant('health' as const), tenant: tenantArb, ok: fc.boolean() }),
  fc.record({ kind: fc.constant('healthPass' as const) }),
  fc.record({ kind: fc.constant('idlePass' as const), idleMs: fc.constantFrom(0, 1_000, 2_000, 3_000) }),
  fc.record({ kind: fc.constant('reconcile' as const) }),
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

async function run(h: Harness, c: Command): Promise<unknown> {
  const record = 'tenant' in c ? (h.tenants.get(c.tenant) ?? tenantRecord(c.tenant)) : undefined;
  switch (c.kind) {
    case 'ensure':
      h.epochs.lastCall.set(c.tenant, Date.now());
      return h.controller.ensureRuntime(record!);
    case 'recycle':
      return h.controller.recycle(record!, 'requested');
    case 'remove':
      if (c.purge) h.tenants.delete(c.tenant);
      return h.controller.remove(c.tenant, c.purge);
    case 'idle':
      return h.controller.idle(c.tenant, { event: c.event });
    case 'status':
      h.tenants.set(c.tenant, { ...record!, status: c.active ? 'active' : 'suspended' });
      return;
    case 'respec':
      h.tenants.set(c.tenant, { ...record!, uid: record!.uid + 1 });
      return;
    case 'crash':
      if (h.driver.runtimes.has(c.tenant)) h.timeline.push({ kind: 'crash', tenantId: c.tenant });
      return h.driver.crash(c.tenant);
    case 'health':
      return h.healthy.set(c.tenant, c.ok);
    case 'healthPass':
      return h.health.runOnce();
    case 'idlePass':
      return h.idle.runOnce(Date.now() + c.idleMs);
    case 'reconcile':
      return h.runReconcile();
  }
}

describe('the lifecycle system', () => {
  it('keeps every transition in the table and every driver change the act of one transition', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(command, { minLength: 1, maxLength: 3 }), { maxLength: 12 }),
        async (groups) => {
          const h = harness();
          for (const id of TENANTS)
            h.tenants.set(id, tenantRecord(id, { uid: 100_101 + TENANTS.indexOf(id) }));
          // Each group runs concurrently: the per-tenant lock must keep the record straight.
          for (const group of groups) {
            const outcomes = await Promise.allSettled(group.map((c) => run(h, c)));
            // Refusals (suspended tenant, open circuit, failed start) are fine; an illegal change is not.
            for (const outcome of outcomes)
              if (outcome.status === 'rejected')
                expect(outcome.reason).not.toBeInstanceOf(IllegalTransitionError);
          }
          checkInvariants(h);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});

describe('lifecycle scenarios', () => {
  const acme = tenantRecord('acme');

  it('first call: create -> ready, one ensure', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    expect(h.transitions()).toEqual(['absent -create-> creating', 'creating -ready-> running']);
    expect(h.calls()).toEqual(['ensure']);
    checkInvariants(h);
  });

  it('a start that never answers: create -> fail, and the next call recycles', async () => {
    const h = harness();
    h.healthy.set('acme', false);
    await expect(h.controller.ensureRuntime(acme)).rejects.toThrow(/did not become healthy/);
    h.healthy.set('acme', true);
    await h.controller.ensureRuntime(acme);
    expect(h.transitions()).toEqual([
      'absent -create-> creating',
      'creating -fail-> unhealthy',
      'unhealthy -recycle-> recycling',
      'recycling -drained-> absent',
      'absent -create-> creating',
      'creating -ready-> running',
    ]);
    checkInvariants(h);
  });

  it('paused wake: resume only, outside the create cap; stopped wake: start again', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    await h.controller.idle('acme', { event: 'pause' });
    await h.controller.ensureRuntime(acme);
    await h.controller.idle('acme', { event: 'stop' });
    await h.controller.ensureRuntime(acme);
    expect(h.transitions().slice(2)).toEqual([
      'running -pause-> paused',
      'paused -wake-> running',
      'running -stop-> stopped',
      'stopped -wake-> creating',
      'creating -ready-> running',
    ]);
    expect(h.calls()).toEqual(['ensure', 'pause', 'resume', 'stop', 'ensure']);
    expect(h.controller.createLimiter.admitted).toBe(2);
    checkInvariants(h);
  });

  it('spec change: the health pass recycles it into a fresh container', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    const first = h.driver.runtimes.get('acme')!.runtimeId;
    h.tenants.set('acme', { ...acme, uid: acme.uid + 1 });
    await h.health.runOnce();
    expect(h.health.recycled.entries).toEqual([{ tenantId: 'acme', reason: 'spec changed' }]);
    expect(h.transitions().slice(2)).toEqual([
      'running -recycle-> recycling',
      'recycling -drained-> absent',
      'absent -create-> creating',
      'creating -ready-> running',
    ]);
    expect(h.driver.runtimes.get('acme')!.runtimeId).not.toBe(first);
    expect(h.driver.runtimes.get('acme')!.generation).toBe(2);
    checkInvariants(h);
  });

  it('crash: fail -> recycle -> drained -> create -> ready, with the exit code as reason', async () => {
    const h = harness();
    h.tenants.set('acme', acme);
    await h.controller.ensureRuntime(acme);
    h.driver.crash('acme', 137);
    await h.health.runOnce();
    expect(h.health.recycled.entries).toEqual([{ tenantId: 'acme', reason: 'crashed (exit 137)' }]);
    expect(h.transitions().slice(2)).toEqual([
      'stopped -fail-> unhealthy',
      'unhealthy -recycle-> recycling',
      'recycling -drained-> absent',
      'absent -create-> creating',
      'creating -ready-> running',
    ]);
    checkInvariants(h);
  });

  it('two failed probes recycle; one does not', async () => {
    const h = harness();
    h.tenants.set('acme', acme);
    await h.controller.ensureRuntime(acme);
    h.healthy.set('acme', false);
    await h.health.runOnce();
    expect(h.health.recycled.total).toBe(0);
    await h.health.runOnce().catch(() => undefined);
    expect(h.health.recycled.entries).toEqual([{ tenantId: 'acme', reason: 'failed 2 health checks' }]);
    expect(h.transitions()[2]).toBe('running -fail-> unhealthy');
  });

  it('idle tiers: pause, stop, reap as the idle time grows, never while calls come in', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    h.epochs.lastCall.set('acme', Date.now());
    await h.idle.runOnce(Date.now() + 500);
    expect(h.idle.actions.total).toBe(0);
    for (const idleMs of [1_000, 2_000, 3_000]) await h.idle.runOnce(Date.now() + idleMs + 50);
    expect(h.idle.actions.entries.map((a) => a.event)).toEqual(['pause', 'stop', 'reap']);
    expect(h.transitions().slice(2)).toEqual([
      'running -pause-> paused',
      'paused -stop-> stopped',
      'stopped -reap-> absent',
    ]);
    checkInvariants(h);
  });

  it('suspend: reap once (volume kept); suspending again changes nothing; a call is refused', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    await h.controller.remove('acme', false);
    await h.controller.remove('acme', false);
    expect(h.transitions().slice(2)).toEqual(['running -reap-> absent']);
    expect(h.calls()).toEqual(['ensure', 'remove']);
    await expect(h.controller.ensureRuntime({ ...acme, status: 'suspended' })).rejects.toBeInstanceOf(
      TenantSuspendedError,
    );
    checkInvariants(h);
  });

  it('offboard: removed ends the incarnation; the same id onboarded again starts from absent', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    await h.controller.remove('acme', true);
    await h.controller.remove('acme', true);
    await h.controller.ensureRuntime(acme);
    expect(h.transitions().slice(2)).toEqual([
      'running -offboard-> removed',
      'absent -offboard-> removed',
      'absent -create-> creating',
      'creating -ready-> running',
    ]);
    checkInvariants(h);
  });

  it('reconciliation reaps the runtime of a tenant nobody knows', async () => {
    const h = harness();
    await h.controller.ensureRuntime(acme);
    const report = await h.runReconcile();
    expect(report.orphansRemoved).toEqual(['acme']);
    expect(h.transitions().slice(2)).toEqual(['running -reap-> absent']);
    checkInvariants(h);
  });
});
