// Decides when a tenant runtime is needed and makes sure there is exactly one, healthy, per tenant.
// Concurrent requests for one tenant share a single in-flight ensure (single flight), so a burst of
// first calls creates one container, not one per call. Lifecycle changes for one tenant (ensure,
// recycle, pause, stop, reap) run one at a time, so a wake never races a pause.
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { probeHealth, type HealthProbe } from '../runtime/health-probe.ts';
import { CrashBreaker } from './crash-breaker.ts';
import { KeyedLock } from './keyed-lock.ts';
import type { RuntimeEpochs } from '../client/runtime-epochs.ts';
import { RuntimeSocketTamperedError } from '../client/runtime-socket.ts';
import type { TamperRecorder, TamperWitness } from '../client/socket-tamper.ts';
import type { RuntimeDriver, RuntimeInfo, RuntimeSpec } from '../runtime/runtime-driver.ts';

export interface RuntimeManagerOptions {
  driver: RuntimeDriver;
  image: string;
  /** Public key the runtime verifies router call assertions with (SPKI PEM or JWK JSON). */
  routerPublicKey: string;
  logger: Logger;
  probe?: HealthProbe;
  healthTimeoutMs?: number;
  breaker?: CrashBreaker;
  /** Where routers learn that a tenant's runtime changed state (pause, stop, recycle). */
  epochs?: RuntimeEpochs;
  /**
   * After telling routers (epoch bump) and before draining the old container: longer than the
   * routers' route freshness, so that every new call goes to the fresh container and only calls
   * already in flight finish on the old one (default 600 ms).
   */
  routeSettleMs?: number;
  /** Where a tampered runtime socket is recorded (log, audit trail, counter). */
  tamper?: TamperRecorder;
}

export class TenantSuspendedError extends BulkheadError<'tenant_suspended'> {
  constructor(message: string) {
    super('tenant_suspended', message);
  }
}

export interface EnsuredRuntime {
  endpoint: RuntimeEndpoint;
  epoch: number;
  info: RuntimeInfo;
}

/** A process end the supervisor did not ask for: killed, crashed or stopped by a limit. */
export function isCrash(info: RuntimeInfo | undefined): boolean {
  if (!info?.exit || info.state !== 'stopped') return false;
  // 0 and 143 (SIGTERM) are the clean ends of a stop we or the engine asked for.
  return info.exit.oomKilled || (info.exit.code !== 0 && info.exit.code !== 143);
}

export class RuntimeManager {
  private readonly inFlight = new Map<string, Promise<EnsuredRuntime>>();
  private readonly options: RuntimeManagerOptions;
  private readonly locks = new KeyedLock();
  private readonly countedCrashes = new Map<string, string>();
  readonly breaker: CrashBreaker;

  constructor(options: RuntimeManagerOptions) {
    if (!options.image) throw new Error('RuntimeManager needs a runtime image');
    if (!options.routerPublicKey) throw new Error('RuntimeManager needs the router public key');
    this.options = options;
    this.breaker = options.breaker ?? new CrashBreaker();
  }

  get driver(): RuntimeDriver {
    return this.options.driver;
  }

  specFor(tenant: TenantRecord): RuntimeSpec {
    return {
      tenantId: tenant.id,
      uid: tenant.uid,
      image: this.options.image,
      isolation: tenant.isolation,
      plan: tenant.plan,
      env: { BULKHEAD_ROUTER_PUBLIC_KEY: this.options.routerPublicKey },
    };
  }

  async ensure(tenant: TenantRecord): Promise<RuntimeEndpoint> {
    return (await this.ensureRuntime(tenant)).endpoint;
  }

  async ensureRuntime(tenant: TenantRecord): Promise<EnsuredRuntime> {
    if (tenant.status !== 'active') throw new TenantSuspendedError(`tenant ${tenant.id} is ${tenant.status}`);
    let pending = this.inFlight.get(tenant.id);
    if (!pending) {
      pending = this.locks
        .run(tenant.id, () => this.ensureOnce(tenant, false))
        .finally(() => this.inFlight.delete(tenant.id));
      this.inFlight.set(tenant.id, pending);
    }
    return pending;
  }

  /**
   * Replaces the tenant's container with a fresh one: routers are told first (epoch), the old
   * container drains its in-flight calls, then a new one starts if the tenant is still active.
   */
  async recycle(
    tenant: TenantRecord,
    reason: string,
    options: { unlessCreatedAfterMs?: number } = {},
  ): Promise<void> {
    await this.locks.run(tenant.id, async () => {
      if (options.unlessCreatedAfterMs !== undefined) {
        const current = await this.options.driver.inspect(tenant.id);
        const createdAt = Date.parse(current?.createdAt ?? '');
        // Already replaced since the request (another report of the same event): nothing to do.
        if (!current || createdAt > options.unlessCreatedAfterMs) return;
      }
      this.options.logger.info({ tenant: tenant.id, reason }, 'recycling runtime');
      await this.options.epochs?.bump(tenant.id);
      if (this.options.epochs)
        await new Promise((resolve) => setTimeout(resolve, this.options.routeSettleMs ?? 600));
      if (tenant.status !== 'active') {
        await this.options.driver.remove(tenant.id, { purgeData: false });
        return;
      }
      await this.ensureOnce(tenant, true);
    });
  }

  /** Runs a lifecycle change for one tenant under its lock (idle tiers, reconciliation). */
  async withTenant<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(tenantId, work);
  }

  /** Records a crash seen by anyone (health monitor, ensure); returns the backoff in force. */
  noteCrash(info: RuntimeInfo): number {
    const key = `${info.runtimeId}:${info.exit?.finishedAt ?? ''}`;
    if (this.countedCrashes.get(info.tenantId) === key) return 0;
    this.countedCrashes.set(info.tenantId, key);
    this.options.logger.warn({ tenant: info.tenantId, exit: info.exit }, 'runtime crashed');
    return this.breaker.failure(info.tenantId);
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    return this.options.driver.inspect(tenantId);
  }

  async remove(tenantId: string, purgeData: boolean): Promise<void> {
    await this.locks.run(tenantId, async () => {
      await this.options.epochs?.bump(tenantId);
      await this.options.driver.remove(tenantId, { purgeData });
    });
    this.options.logger.info({ tenant: tenantId, purgeData }, 'runtime removed');
  }

  private async ensureOnce(tenant: TenantRecord, forceFresh: boolean): Promise<EnsuredRuntime> {
    const started = performance.now();
    this.breaker.check(tenant.id);
    let fresh = forceFresh;
    const before = forceFresh ? undefined : await this.options.driver.inspect(tenant.id);
    if (before && isCrash(before)) {
      // A crashed process comes back in a fresh container, never restarted in place.
      this.noteCrash(before);
      this.breaker.check(tenant.id);
      fresh = true;
    }
    const wantedHash = specHash(this.specFor(tenant));
    if (before?.state === 'running' && before.specHash === wantedHash) {
      // Already up, current and answering: hand it out. Up but not answering, or its socket
      // tampered with: replace it.
      if ((await this.check(before, 'supervisor-start')) === 'healthy')
        return { endpoint: before.endpoint, epoch: await this.currentEpoch(tenant.id), info: before };
      fresh = true;
    }
    let info: RuntimeInfo;
    try {
      // Waking from paused is the hot wake path: unpause what we just inspected, nothing else.
      info =
        before?.state === 'paused' && !fresh && before.specHash === wantedHash
          ? await this.options.driver.resume(before)
          : await this.options.driver.ensure(this.specFor(tenant), { fresh });
      await this.waitUntilHealthy(info);
    } catch (error) {
      const backoff = this.breaker.failure(tenant.id);
      this.options.logger.warn(
        { tenant: tenant.id, err: error, backoffMs: backoff },
        'runtime failed to start',
      );
      throw error;
    }
    this.breaker.success(tenant.id);
    this.options.logger.info(
      {
        tenant: tenant.id,
        runtime: info.runtimeId.slice(0, 12),
        from: before?.state ?? 'absent',
        ms: Math.round(performance.now() - started),
      },
      'runtime ready',
    );
    return { endpoint: info.endpoint, epoch: await this.currentEpoch(tenant.id), info };
  }

  /**
   * Probes a runtime's health. A tampered socket (never connected to) is recorded as the security
   * event it is and reported as such, so that the caller replaces the runtime.
   */
  async check(info: RuntimeInfo, witness: TamperWitness): Promise<'healthy' | 'unhealthy' | 'tampered'> {
    try {
      return (await (this.options.probe ?? probeHealth)(info.endpoint)) ? 'healthy' : 'unhealthy';
    } catch (error) {
      if (!(error instanceof RuntimeSocketTamperedError)) throw error;
      await this.options.tamper?.record(info.tenantId, error, witness);
      return 'tampered';
    }
  }

  private async currentEpoch(tenantId: string): Promise<number> {
    return (await this.options.epochs?.current(tenantId)) ?? 0;
  }

  /** Polls the health endpoint; gives up early when the process has already exited. */
  private async waitUntilHealthy(info: RuntimeInfo): Promise<void> {
    const timeoutMs = this.options.healthTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    let lastInspect = Date.now();
    for (;;) {
      const health = await this.check(info, 'supervisor-start');
      if (health === 'healthy') return;
      if (health === 'tampered')
        throw new Error(`runtime for ${info.tenantId} tampered with its socket during start`);
      if (Date.now() - lastInspect > 200) {
        lastInspect = Date.now();
        const now = await this.options.driver.inspect(info.tenantId);
        if (!now || now.state === 'stopped') {
          // Counted once, by the caller's failure path; remember it so inspection does not recount.
          if (now) this.countedCrashes.set(now.tenantId, `${now.runtimeId}:${now.exit?.finishedAt ?? ''}`);
          throw new Error(
            `runtime for ${info.tenantId} exited during start (code ${now?.exit?.code ?? '?'})`,
          );
        }
      }
      if (Date.now() >= deadline) throw new Error(`runtime did not become healthy within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
