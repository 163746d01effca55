// The one owner of every tenant runtime's lifecycle. It observes (inspect, and what the health pass,
// idle tiers and reconciliation report), decides through the written state machine
// (lifecycle-state.ts: `transition` is the only way a state changes) and acts through the driver
// port. Every driver call that changes something runs inside `apply`, under the tenant's lock, as
// the act of exactly one recorded transition: a wake never races a pause, and the record says what
// happened. Concurrent ensures of one tenant share one (tenant-gate.ts).
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { runIfWaited, type RemoveAsked } from '../client/runtime-jobs.ts';
import type { TamperWitness } from '../client/socket-tamper.ts';
import type { EnsureOptions, RuntimeDriver, RuntimeInfo, RuntimeSpec } from '../runtime/runtime-driver.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { CpuBoosts } from './cpu-boost.ts';
import { CrashBreaker } from './crash-breaker.ts';
import { CreateLimiter } from './create-limiter.ts';
import { allowed, type LifecycleEvent } from './lifecycle-state.ts';
import { isCrash, type Decision, type Health, type Observation } from './observation-policy.ts';
import { RuntimeHealth } from './runtime-health.ts';
import { TenantGate } from './tenant-gate.ts';
import {
  FailureLedger,
  currentSpecHash,
  epochAhead,
  runtimeSpec,
  TenantStates,
  TenantSuspendedError,
  type EnsuredRuntime,
  type RecycleOptions,
  type RuntimeControllerOptions,
} from './controller-parts.ts';

export { TenantSuspendedError } from './controller-parts.ts';

export class RuntimeController {
  private readonly options: RuntimeControllerOptions;
  private readonly driver: RuntimeDriver;
  private readonly gate: TenantGate;
  private readonly states = new TenantStates();
  private readonly ledger: FailureLedger;
  private readonly health: RuntimeHealth;
  private readonly boosts: CpuBoosts;
  readonly breaker: CrashBreaker;
  readonly createLimiter: CreateLimiter;
  /** Every state change made, with its reason (bounded; `total` counts all). */
  readonly transitions = this.states.transitions;

  constructor(options: RuntimeControllerOptions) {
    if (!options.image) throw new BulkheadError('invalid_config', 'the lifecycle needs a runtime image');
    if (!options.routerPublicKey)
      throw new BulkheadError('invalid_config', 'the lifecycle needs the router public key');
    this.options = options;
    this.gate = new TenantGate(options.registry, options.images);
    this.driver = options.driver;
    this.breaker = options.breaker ?? new CrashBreaker();
    this.ledger = new FailureLedger(this.breaker, options.logger);
    this.createLimiter = new CreateLimiter(options.settings.createLimit);
    this.boosts = new CpuBoosts({
      driver: options.driver,
      cpus: options.settings.startCpuBoost,
      deadlineMs: options.settings.startCpuBoostMs,
      intervalMs: options.settings.startCpuBoostIntervalMs,
      logger: options.logger,
    });
    this.health = new RuntimeHealth({
      view: options.driver,
      probe: options.probe,
      tamper: options.tamper,
      healthTimeoutMs: options.settings.healthTimeoutMs,
      liveProbeMs: options.settings.liveProbeMs,
    });
  }

  specFor(tenant: TenantRecord): RuntimeSpec {
    return runtimeSpec(tenant, this.options);
  }

  /** The hash of the tenant's spec now, undefined while not known (controller-parts.ts). */
  async specHashOf(tenant: TenantRecord): Promise<string | undefined> {
    return currentSpecHash(tenant, this.options);
  }

  async ensure(tenant: TenantRecord): Promise<RuntimeEndpoint> {
    return (await this.ensureRuntime(tenant)).endpoint;
  }

  async ensureRuntime(tenant: TenantRecord): Promise<EnsuredRuntime> {
    if (tenant.status !== 'active') throw new TenantSuspendedError(tenant.id, tenant.status);
    // The tenant's image for its pack pins exists before its spec is computed (a no-op without packs).
    await this.options.images?.prepare(tenant);
    return this.gate.shared(tenant, () => this.ensureLocked(tenant));
  }

  /** What a first ensure readies before its create (the image, the volume), with no container. */
  async prepare(tenant: TenantRecord): Promise<void> {
    if (tenant.status !== 'active') throw new TenantSuspendedError(tenant.id, tenant.status);
    await this.options.images?.prepare(tenant);
    await this.gate.run(tenant.id, async () => {
      await this.driver.prepareVolume(this.specFor(await this.gate.requireActive(tenant)));
    });
  }

  /**
   * Replaces the tenant's container with a fresh one: routers are told first (epoch), the old
   * container drains its in-flight calls, then a new one starts if the tenant is still active and
   * its crash circuit closed. `failed`: the runtime is broken (marked so first), not out of date.
   * `runtimeId`: only that container, if it still serves the tenant; `unlessCreatedAfterMs`: only a
   * container created before then (either: another report of the same event came first). false:
   * it found nothing to do.
   */
  async recycle(tenant: TenantRecord, reason: string, options: RecycleOptions = {}): Promise<boolean> {
    if (tenant.status === 'active') await this.options.images?.prepare(tenant);
    return this.gate.run(tenant.id, async () => {
      const info = await this.driver.inspect(tenant.id);
      // Already replaced since the request (another report of the same event): nothing to do.
      if (options.unlessCreatedAfterMs !== undefined)
        if (!info || Date.parse(info.createdAt ?? '') > options.unlessCreatedAfterMs) return false;
      // The container an observation or a report was about is gone or replaced since (removed,
      // reaped, or recycled by another path while this waited for the lock): acting on it would
      // bring up a runtime nobody asked for. The next call starts one if it is wanted.
      if (options.runtimeId !== undefined && info?.runtimeId !== options.runtimeId) return false;
      // The registry's record now: the one the recycle was asked with may be older (tenant-gate.ts).
      const active = tenant.status === 'active' ? await this.gate.active(tenant) : undefined;
      const failed = options.failed ?? false;
      if (active && !failed) this.breaker.check(active);
      // A broken runtime counts for the circuit once (an observation's was counted already), and
      // is not left running while it is open (a fork bomb at its PIDs limit, a runtime that broke a
      // read bound): removed, not replaced; calls get the backoff.
      if (failed && info) await this.ledger.noteCrash(info, active ?? tenant, `runtime failed: ${reason}`);
      const replacement = active && !this.breaker.isOpen(active) ? active : undefined;
      this.options.logger.info({ tenant: tenant.id, reason, replaced: !!replacement }, 'recycling runtime');
      await this.tellRouters(tenant.id);
      if (replacement) await this.bringUp(replacement, info, reason, { fresh: true, failed });
      else await this.replace(tenant.id, info, reason, { failed, drain: false });
      return true;
    });
  }

  /** The one entry for observers: a fact about a runtime in, what was done about it out. */
  async observe(o: Observation, tenant: TenantRecord | undefined): Promise<Decision> {
    if (o.kind === 'stray') return this.removeStray(o);
    const verdict = await this.ledger.verdict(o, this.options.settings.failuresBeforeRecycle, tenant);
    if (!verdict.recycle) return { acted: false };
    const { reason, failed } = verdict.recycle;
    if (!tenant) return { acted: false, why: 'no such tenant' };
    if (this.breaker.isOpen(tenant) && !(failed && o.info.state !== 'stopped')) {
      this.options.logger.warn({ tenant: tenant.id, reason }, 'not recycling: crash circuit open');
      return { acted: false, why: 'crash circuit open' };
    }
    try {
      const acted = await this.recycle(tenant, reason, { failed, runtimeId: o.info.runtimeId });
      if (!acted) return { acted: false, why: 'runtime gone or replaced since it was observed' };
      return { acted: true, event: 'recycle', reason };
    } catch (error) {
      this.options.logger.warn({ tenant: tenant.id, err: error }, 'recycle failed');
      return { acted: true, event: 'recycle', reason, error };
    }
  }

  /**
   * An idle tier change: only if the runtime observed is still the tenant's, the tier is still
   * legal in its state, and (with `quietSinceMs`) no router recorded a call since then: the epoch
   * bump that tells routers is that last check, atomically.
   */
  async idle(
    tenantId: string,
    change: { event: 'pause' | 'stop' | 'reap'; runtimeId?: string; quietSinceMs?: number },
  ): Promise<boolean> {
    return this.gate.run(tenantId, async () => {
      const current = await this.driver.inspect(tenantId);
      if (!current || (change.runtimeId !== undefined && current.runtimeId !== change.runtimeId))
        return false;
      if (!allowed(this.states.stateOf(tenantId, current), change.event)) return false;
      const epochs = this.options.epochs;
      if (change.quietSinceMs !== undefined && epochs) {
        if (!(await epochs.bumpIfIdle(tenantId, change.quietSinceMs))) return false;
      } else await epochs?.bump(tenantId);
      const grace = { graceSeconds: this.options.settings.stopGraceSeconds };
      await this.apply(tenantId, change.event, 'idle', current, () =>
        change.event === 'pause'
          ? this.driver.pause(tenantId)
          : change.event === 'stop'
            ? this.driver.stop(tenantId, grace)
            : this.driver.remove(tenantId, { purgeData: false }),
      );
      return true;
    });
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    return this.driver.inspect(tenantId);
  }

  async check(info: RuntimeInfo, witness: TamperWitness): Promise<Health> {
    return this.health.check(info, witness);
  }

  /** Resolves once no start-time CPU boost is in force for the tenant (at most its deadline). */
  async cpuBoostSettled(tenantId: string): Promise<void> {
    await this.boosts.settled(tenantId);
  }

  /** The health pass found a runtime's quota above its plan's: a boost left over is ended. */
  async endLeftoverBoost(info: RuntimeInfo, tenant: TenantRecord): Promise<void> {
    await this.boosts.endLeftover(info, tenant);
  }

  /** At shutdown: no boost outlives this process's deadline timers. */
  async close(): Promise<void> {
    await this.boosts.close();
  }

  /** Suspend (`purgeData` false: volume kept) or offboard, unless its asker gave up (runIfWaited). */
  async remove(tenantId: string, purgeData: boolean, asked: RemoveAsked = {}) {
    await this.gate.run(tenantId, async () => {
      await this.options.epochs?.bump(tenantId);
      const info = await this.driver.inspect(tenantId);
      await runIfWaited(tenantId, asked);
      if (purgeData) {
        await this.apply(tenantId, 'offboard', 'offboarded', info, () =>
          this.driver.remove(tenantId, { purgeData: true }),
        );
        // `removed` ends this incarnation: the same id onboarded again starts from absent.
        this.states.forget(tenantId);
        await this.ledger.forget(tenantId);
      } else if (this.states.stateOf(tenantId, info) !== 'absent')
        await this.apply(tenantId, 'reap', 'removed', info, () =>
          this.driver.remove(tenantId, { purgeData }),
        );
    });
    this.options.logger.info({ tenant: tenantId, purgeData }, 'runtime removed');
  }

  private async ensureLocked(asked: TenantRecord): Promise<EnsuredRuntime> {
    const started = performance.now();
    this.breaker.check(asked);
    // Read alongside the bring-up: every epoch bump (an idle tier, a recycle, a removal) happens
    // under this tenant's lock, which this ensure holds, so the value cannot move meanwhile.
    const epoch = epochAhead(this.options.epochs, asked.id);
    // The record this ensure was asked with may be older than an offboarding or an update: the
    // runtime is made from the registry's (tenant-gate.ts).
    const [before, tenant] = await Promise.all([
      this.driver.inspect(asked.id),
      this.gate.requireActive(asked),
    ]);
    // A crash, or an end of a runtime we brought up that nobody asked for (whatever its exit code),
    // counts for the breaker before anything is started again (FailureLedger.endedUnasked).
    if (await this.ledger.noteEnded(before, tenant)) this.breaker.check(tenant);
    const current = before?.specHash === specHash(this.specFor(tenant));
    const state = this.states.stateOf(tenant.id, before);
    // Already up, current and answering: hand it out. Up but not answering, or its socket
    // tampered with: replace it.
    if (state === 'running' && current && (await this.check(before, 'supervisor-start')) === 'healthy')
      return { endpoint: before.endpoint, epoch: await epoch, info: before };
    // A crashed process comes back in a fresh container, never restarted in place; one that ended
    // unasked with a clean exit is started again, as one the engine stopped (an engine restart).
    const crashed = isCrash(before);
    const broken = crashed || (state === 'running' && current);
    const reason = crashed ? 'crashed' : !current && before ? 'spec changed' : broken ? 'unhealthy' : 'call';
    const fresh = broken || !current;
    const info = await this.bringUp(tenant, before, reason, { fresh, failed: broken });
    const seconds = (performance.now() - started) / 1000;
    const from = before?.state ?? 'absent';
    this.options.onReady?.(
      !fresh && (state === 'paused' || state === 'stopped')
        ? { kind: 'wake', from: state, seconds }
        : { kind: 'create', seconds },
    );
    this.options.logger.info(
      { tenant: tenant.id, runtime: info.runtimeId.slice(0, 12), from, ms: Math.round(seconds * 1000) },
      'runtime ready',
    );
    return { endpoint: info.endpoint, epoch: await epoch, info };
  }

  /**
   * Makes the tenant's runtime run: wake a paused or stopped one, or (`fresh`) replace whatever
   * is there, then create. A failure counts for the crash breaker and marks the runtime failed.
   */
  private async bringUp(
    tenant: TenantRecord,
    before: RuntimeInfo | undefined,
    reason: string,
    options: { fresh: boolean; failed: boolean },
  ): Promise<RuntimeInfo> {
    const id = tenant.id;
    const spec = this.specFor(tenant);
    const state = this.states.stateOf(id, before);
    try {
      if (state === 'paused' && !options.fresh) {
        // The hot wake path: unpause what was just inspected, nothing else, outside the create cap.
        const woken = await this.apply(id, 'wake', reason, before, () => this.driver.resume(before!));
        await this.health.waitUntilResumed(woken, (ended) => this.ledger.countedAlready(ended));
        await this.ledger.cameUp(woken, tenant);
        return woken;
      }
      const wake = state === 'stopped' && !options.fresh;
      if (!wake && state !== 'absent') await this.replace(id, before, reason, { ...options, drain: true });
      // Outside the create cap: what the tenant left in its socket directory may take long to
      // remove, and a slot held meanwhile would hold every other tenant's start.
      await this.driver.prepareSocketDir(spec);
      const generation = (before?.generation ?? 0) + (wake ? 0 : 1);
      const secrets = async () => (await this.options.packSecrets?.(tenant)) ?? {};
      const start = { generation, secrets, socketDirPrepared: true }; // just above: not twice
      const up = await this.boosts.whileStarting(async () => {
        const started = await this.apply(
          id,
          wake ? 'wake' : 'create',
          reason,
          wake ? before : undefined,
          () => this.createLimiter.run(() => this.startBoosted(spec, start)),
        );
        // A start that exits is counted once, by the failure path below: inspection must not recount.
        await this.health.waitUntilHealthy(started, (ended) => this.ledger.countedAlready(ended));
        return started;
      });
      // Off the caller's path: its first call may still run boosted, for one engine update at most
      // (and never past the boost's deadline).
      void this.boosts.end(id, 'ready');
      await this.apply(id, 'ready', reason, up, noop);
      await this.ledger.cameUp(up, tenant);
      return up;
    } catch (error) {
      void this.boosts.end(id, 'start failed');
      const backoff = await this.ledger.startFailed(tenant);
      this.options.logger.warn({ tenant: id, err: error, backoffMs: backoff }, 'runtime failed to start');
      const now = await this.driver.inspect(id).catch(() => undefined);
      if (allowed(this.states.stateOf(id, now), 'fail'))
        await this.apply(id, 'fail', 'start failed', now, noop);
      throw error;
    }
  }

  /** The engine's create or start, with this start's CPU boost (if any) and its deadline armed. */
  private async startBoosted(spec: RuntimeSpec, options: EnsureOptions): Promise<RuntimeInfo> {
    const boost = this.boosts.begin(spec);
    const up = await this.driver.ensure(spec, { ...options, startCpuQuota: boost?.quota });
    if (boost) this.boosts.started(boost);
    return up;
  }

  /** fail? -> recycle (drain and remove the old container) -> drained: the tenant is absent. */
  private async replace(
    tenantId: string,
    before: RuntimeInfo | undefined,
    reason: string,
    options: { failed: boolean; drain: boolean },
  ): Promise<void> {
    if (this.states.stateOf(tenantId, before) === 'absent') return;
    if (options.failed && allowed(this.states.stateOf(tenantId, before), 'fail'))
      await this.apply(tenantId, 'fail', reason, before, noop);
    const drain = options.drain ? { drainSeconds: this.options.settings.drainSeconds } : {};
    await this.apply(tenantId, 'recycle', reason, before, () =>
      this.driver.remove(tenantId, { purgeData: false, ...drain }),
    );
    await this.apply(tenantId, 'drained', reason, undefined, noop);
  }

  /** A container that is no tenant's runtime (duplicate, helper, orphan of an unknown tenant). */
  private async removeStray(o: Extract<Observation, { kind: 'stray' }>): Promise<Decision> {
    const { owned } = o;
    const tenantId = owned.tenantId;
    if (o.why === 'orphan' && tenantId && owned.canonical) {
      // The canonical container of a tenant that should have none: reaped (volume kept).
      return this.gate.run(tenantId, async () => {
        const current = await this.driver.inspect(tenantId);
        if (current?.runtimeId !== owned.runtimeId) return { acted: false, why: 'replaced meanwhile' };
        await this.apply(tenantId, 'reap', 'orphan', current, () =>
          this.driver.remove(tenantId, { purgeData: false }),
        );
        return { acted: true, event: 'reap', reason: 'orphan' };
      });
    }
    await this.gate.run(tenantId ?? owned.runtimeId, () => this.driver.removeById(owned.runtimeId));
    return { acted: false, why: `${o.why} removed: not a tenant's runtime` };
  }

  /** The one place a state changes: the transition is recorded, then its act runs. */
  private async apply<T>(
    tenantId: string,
    event: LifecycleEvent,
    reason: string,
    observed: RuntimeInfo | undefined,
    act: () => Promise<T>,
  ): Promise<T> {
    this.states.record(tenantId, event, reason, observed);
    this.ledger.recorded(tenantId, event);
    return act();
  }

  /** Epoch bump, then the settle time: every new call goes to the fresh container. */
  private async tellRouters(tenantId: string): Promise<void> {
    const { epochs, settings } = this.options;
    if (!epochs) return;
    await epochs.bump(tenantId);
    await new Promise((resolve) => setTimeout(resolve, settings.routeSettleMs));
  }
}

const noop = (): Promise<void> => Promise.resolve();
