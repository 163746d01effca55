// What the lifecycle controller is built from and hands out: its settings (their defaults are
// declared once, in supervisor/config.ts), its collaborators, and the record of its transitions.
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { RedisRuntimeEpochs } from '../client/runtime-epochs.ts';
import type { TamperRecorder } from '../client/socket-tamper.ts';
import type { HealthProbe } from '../runtime/health-probe.ts';
import type { PackSecrets } from '../../kernel/packs/enabled-packs.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { RuntimeDriver, RuntimeInfo, RuntimeSpec } from '../runtime/runtime-driver.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import type { CircuitTenant, CrashBreaker } from './crash-breaker.ts';
import { isCrash, verdictOf, type RuntimeObservation, type Verdict } from './observation-policy.ts';
import { observedState, transition, type LifecycleEvent, type LifecycleState } from './lifecycle-state.ts';
import { RecentLog } from './recent-log.ts';

/** The knobs of the lifecycle, at the defaults of supervisor/config.ts unless a caller overrides. */
export interface LifecycleSettings {
  /** Concurrent container creates and starts; bursts queue (waking from paused is not limited). */
  createLimit: number;
  /** How long a starting runtime may take to answer its health check. */
  healthTimeoutMs: number;
  /** How long one health probe of a running runtime may take to answer. */
  liveProbeMs: number;
  /** Seconds a replaced container gets to finish in-flight calls before it is killed. */
  drainSeconds: number;
  /** Seconds between SIGTERM and SIGKILL when an idle runtime is stopped. */
  stopGraceSeconds: number;
  /**
   * After telling routers (epoch bump) and before draining the old container: longer than the
   * routers' route freshness, so that every new call goes to the fresh container.
   */
  routeSettleMs: number;
  /** Failed health probes in a row before a runtime is recycled. */
  failuresBeforeRecycle: number;
  /** CPUs per period a starting runtime may use until it answers (0: none; supervisor/config.ts). */
  startCpuBoost: number;
  /** The boost's hard deadline, from the engine's start. */
  startCpuBoostMs: number;
  /** The least time between the beginnings of two boosts of one tenant. */
  startCpuBoostIntervalMs: number;
  /** How long the runtime keeps write results for replay (it reaches the runtime in its env). */
  idempotencyWindowMs: number;
}

export interface RuntimeControllerOptions {
  driver: RuntimeDriver;
  image: string;
  /** Public key the runtime verifies router call assertions with (SPKI PEM or JWK JSON). */
  routerPublicKey: string;
  /**
   * The egress gateway's public key (SPKI PEM): a tenant's bridge uses only connections that proved
   * themselves with it; unset, none can, and the tenant's egress answers 503.
   */
  egressPublicKey?: string;
  logger: Logger;
  settings: LifecycleSettings;
  probe?: HealthProbe;
  breaker?: CrashBreaker;
  /** Where routers learn that a tenant's runtime changed state (pause, stop, recycle). */
  epochs?: Pick<RedisRuntimeEpochs, 'current' | 'bump' | 'bumpIfIdle'>;
  /** Where a tampered runtime socket is recorded (log, audit trail, counter). */
  tamper?: TamperRecorder;
  /**
   * Per-tenant images for tenants that enable packs (supervisor/docker/tenant-images.ts): prepared
   * before every ensure and recycle (and again under the tenant's lock for the registry's record,
   * tenant-gate.ts), looked up unbuilt for the health pass (currentSpecHash); without it every
   * tenant runs `image`.
   */
  images?: {
    prepare(tenant: TenantRecord): Promise<void>;
    imageFor(tenant: TenantRecord): string | undefined;
    resolve(tenant: TenantRecord): Promise<string | undefined>;
  };
  /**
   * The values of the secrets the tenant's packs declare (supervisor/secrets/pack-secrets.ts), read
   * at every create and wake from stopped; without it packs start with none.
   */
  packSecrets?: (tenant: TenantRecord) => Promise<PackSecrets>;
  /**
   * The registry, read again under the tenant's lock before a runtime or volume is made for it
   * (tenant-gate.ts); without it, the record a request carries is taken at its word.
   */
  registry?: Pick<TenantRegistry, 'get'>;
  /** Told of every runtime brought up for an ensure (the supervisor's latency histograms). */
  onReady?: (ready: RuntimeReady) => void;
}

/** A runtime an ensure brought up: created (cold start), or woken from paused or stopped. */
export type RuntimeReady =
  { kind: 'create'; seconds: number } | { kind: 'wake'; from: 'paused' | 'stopped'; seconds: number };

export interface EnsuredRuntime {
  endpoint: RuntimeEndpoint;
  epoch: number;
  info: RuntimeInfo;
}

/** Which runtime a recycle is about (RuntimeController.recycle). */
export interface RecycleOptions {
  unlessCreatedAfterMs?: number;
  failed?: boolean;
  runtimeId?: string;
}

export interface Transition {
  tenantId: string;
  from: LifecycleState;
  event: LifecycleEvent;
  to: LifecycleState;
  reason: string;
}

/** A call for a tenant that is not active: refused before anything is started. */
export class TenantSuspendedError extends BulkheadError<'tenant_suspended'> {
  constructor(tenantId: string, status: string) {
    super('tenant_suspended', `tenant ${tenantId} is ${status}`);
  }
}

type SpecOptions = Pick<
  RuntimeControllerOptions,
  'image' | 'routerPublicKey' | 'egressPublicKey' | 'settings' | 'images'
>;

/**
 * What a tenant's runtime is made from; the idempotency window reaches the runtime explicitly. A
 * tenant with packs runs its composed image, so its spec exists only once that is prepared: the
 * plain runtime image in its place would be another spec (a runtime replaced for nothing, or
 * made without the tenant's packs).
 */
export function runtimeSpec(
  tenant: TenantRecord,
  options: SpecOptions,
  image = imageOf(tenant, options),
): RuntimeSpec {
  return {
    tenantId: tenant.id,
    uid: tenant.uid,
    image,
    isolation: tenant.isolation,
    plan: tenant.plan,
    env: {
      BULKHEAD_ROUTER_PUBLIC_KEY: options.routerPublicKey,
      BULKHEAD_IDEMPOTENCY_WINDOW_MS: String(options.settings.idempotencyWindowMs),
      ...(options.egressPublicKey ? { BULKHEAD_EGRESS_PUBLIC_KEY: options.egressPublicKey } : {}),
    },
  };
}

function imageOf(tenant: TenantRecord, options: SpecOptions): string {
  if (!options.images || tenant.packs.length === 0) return options.image;
  const image = options.images.imageFor(tenant);
  if (image === undefined)
    throw new BulkheadError('runtime_failed', `the image of tenant ${tenant.id}'s packs is not prepared`);
  return image;
}

/**
 * The hash of the spec the tenant's runtime would be made with now, for those that compare it with
 * a running one (the health pass, the rollout guard). The image of a tenant with packs that this
 * process has not prepared (a restarted supervisor has prepared none) is looked up without a build
 * (TenantImages.resolve). undefined: not known now (a pack no longer approved, the engine not
 * answering): nothing is decided on it, the runtime neither due nor a failure settled.
 */
export async function currentSpecHash(
  tenant: TenantRecord,
  options: SpecOptions,
): Promise<string | undefined> {
  const { images } = options;
  if (!images || tenant.packs.length === 0 || images.imageFor(tenant) !== undefined)
    return specHash(runtimeSpec(tenant, options));
  const image = await images.resolve(tenant).catch(() => undefined);
  return image === undefined ? undefined : specHash(runtimeSpec(tenant, options, image));
}

/**
 * The tenant's epoch (0 where no router is told of any), its read started now and awaited once the
 * runtime is up, so that its Redis round trip overlaps the inspect and the bring-up rather than
 * adding to them. Marked handled: a bring-up that throws first leaves it unread, and its failure
 * must not surface as an unhandled rejection that ends the supervisor.
 */
export function epochAhead(epochs: RuntimeControllerOptions['epochs'], tenantId: string): Promise<number> {
  const epoch = epochs ? epochs.current(tenantId) : Promise.resolve(0);
  epoch.catch(() => undefined);
  return epoch;
}

/** States only the controller can know (the engine shows a container, not why it is there). */
const HELD: ReadonlySet<LifecycleState> = new Set<LifecycleState>(['creating', 'unhealthy', 'recycling']);

/**
 * Each tenant's lifecycle state: what the engine shows, overlaid with the states only the
 * controller knows, and the record of every change (bounded; `total` counts all).
 */
export class TenantStates {
  private readonly held = new Map<string, LifecycleState>();
  readonly transitions = new RecentLog<Transition>(1_000);

  stateOf(tenantId: string, observed: RuntimeInfo | undefined): LifecycleState {
    return this.held.get(tenantId) ?? observedState(observed);
  }

  /** The table's next state for `event` (IllegalTransitionError if none), recorded. */
  record(tenantId: string, event: LifecycleEvent, reason: string, observed: RuntimeInfo | undefined): void {
    const from = this.stateOf(tenantId, observed);
    const to = transition(from, event);
    this.transitions.push({ tenantId, from, event, to, reason });
    if (HELD.has(to)) this.held.set(tenantId, to);
    else this.held.delete(tenantId);
  }

  /** After offboarding: the same id onboarded again starts from what the engine shows (absent). */
  forget(tenantId: string): void {
    this.held.delete(tenantId);
  }
}

/** The events whose act stops or removes the runtime: idle stop and reap, recycle, offboarding. */
const ASKED_ENDS: ReadonlySet<LifecycleEvent> = new Set<LifecycleEvent>([
  'stop',
  'reap',
  'recycle',
  'offboard',
]);

const crashKey = (info: RuntimeInfo): string => `${info.runtimeId}:${info.exit?.finishedAt ?? ''}`;

/** What the controller counts per tenant: crashes (each once, into the breaker), failed probes. */
export class FailureLedger {
  private readonly probes = new Map<string, number>();
  private readonly crashes = new Map<string, string>();
  /**
   * Per tenant, the runtime this process brought up (it answered) and has not asked to end since
   * (idle stop or reap, recycle, removal: `asked`). The exit code cannot tell a stop we asked for
   * from an end the tenant chose: its code picks its own, and exits 0 as a clean stop would. Only
   * this record can. In memory, unlike the breaker's counts: keeping it would write to Redis at
   * every start and wake that comes up, on a call's path. After a restart nothing is known of the
   * runtimes found, and one found stopped is taken as a clean stop (an idled tenant wakes, never
   * backs off); the next runtime this process brings up is known again, so a tenant whose runtime
   * ends itself gets one end uncounted per restart, while the breaker goes on from its counts.
   */
  private readonly up = new Map<string, string>();
  private readonly breaker: CrashBreaker;
  private readonly logger: Logger;

  constructor(breaker: CrashBreaker, logger: Logger) {
    this.breaker = breaker;
    this.logger = logger;
  }

  /** Records a crash seen by anyone (health pass, ensure) of the tenant's runtime `info`. */
  async noteCrash(info: RuntimeInfo, tenant: CircuitTenant, why = 'runtime crashed'): Promise<void> {
    if (this.crashes.get(info.tenantId) === crashKey(info)) return;
    this.crashes.set(info.tenantId, crashKey(info));
    this.logger.warn({ tenant: info.tenantId, exit: info.exit }, why);
    await this.breaker.crash(tenant, crashKey(info));
  }

  /** A start (or wake) did not come up: counted, with its exit if it was seen; the backoff in force. */
  async startFailed(tenant: CircuitTenant): Promise<number> {
    return this.breaker.failure(tenant, this.crashes.get(tenant.id));
  }

  /**
   * The runtime answered after its start or wake: the breaker's failed starts are forgotten, and
   * from now on an end the controller did not ask for is a crash.
   */
  async cameUp(info: RuntimeInfo, tenant: CircuitTenant): Promise<void> {
    this.up.set(info.tenantId, info.runtimeId);
    await this.breaker.success(tenant);
  }

  /** A transition recorded: one that stops or removes the runtime is an end the controller asked for. */
  recorded(tenantId: string, event: LifecycleEvent): void {
    if (ASKED_ENDS.has(event)) this.up.delete(tenantId);
  }

  /** Counts an end of the runtime found (a crash, or an end nobody asked for); true if it was one. */
  async noteEnded(info: RuntimeInfo | undefined, tenant: CircuitTenant): Promise<boolean> {
    if (isCrash(info)) await this.noteCrash(info!, tenant);
    else if (this.endedUnasked(info))
      await this.noteCrash(info!, tenant, 'runtime ended without being asked');
    else return false;
    return true;
  }

  /**
   * Whether `info` is a runtime this process brought up that has stopped without being asked to,
   * whatever its exit code: exit 0 or 143 from a runtime nobody stopped is the tenant's choice,
   * and left uncounted, a runtime ending after each start would be started again on every call.
   */
  endedUnasked(info: RuntimeInfo | undefined): boolean {
    return info?.state === 'stopped' && this.up.get(info.tenantId) === info.runtimeId;
  }

  /** A start that exited is counted once, by the start's failure path: inspection must not recount. */
  countedAlready(info: RuntimeInfo): void {
    this.crashes.set(info.tenantId, crashKey(info));
  }

  /**
   * The verdict on an observation, with the tenant's failed probes counted, and a known tenant's
   * broken runtime (a crash, a limit reached, failed health checks, a tampered or missing socket)
   * counted once for the breaker: a runtime that comes up and then breaks this way, again and
   * again, is a crash loop too, and each recycle takes a create-cap slot and engine work.
   */
  async verdict(
    o: RuntimeObservation,
    failuresBeforeRecycle: number,
    tenant: CircuitTenant | undefined,
  ): Promise<Verdict> {
    const tenantId = o.info.tenantId;
    const counted = this.probes.get(tenantId) ?? 0;
    const verdict = verdictOf(o, counted, failuresBeforeRecycle);
    if (verdict.recycle?.failed && tenant)
      await this.noteCrash(
        o.info,
        tenant,
        o.kind === 'crashed' ? undefined : `runtime failed: ${verdict.recycle.reason}`,
      );
    if (o.kind === 'probe' && o.health === 'unhealthy')
      this.logger.warn({ tenant: tenantId, failures: counted + 1 }, 'health check failed');
    if (verdict.failures > 0) this.probes.set(tenantId, verdict.failures);
    else this.probes.delete(tenantId);
    return verdict;
  }

  async forget(tenantId: string): Promise<void> {
    this.probes.delete(tenantId);
    this.crashes.delete(tenantId);
    this.up.delete(tenantId);
    await this.breaker.forget(tenantId);
  }
}
