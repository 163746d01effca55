// The RuntimeDriver port: how the supervisor runs one isolated runtime per tenant. The dockerode
// driver implements it for one host; a cluster driver (Kubernetes, Swarm) would return a network
// endpoint instead of a socket, and nothing above this port would change.
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { IsolationTier, Plan } from '../../kernel/tenant/tenant-spec.ts';
import type { PackSecrets } from '../../kernel/packs/enabled-packs.ts';

/** Everything that decides what a tenant's runtime looks like; its hash is the reuse key. */
export interface RuntimeSpec {
  tenantId: string;
  uid: number;
  image: string;
  isolation: IsolationTier;
  plan: Plan;
  /** Environment for the tenant runtime (no secrets of other tenants, never an access token). */
  env: Record<string, string>;
}

/** What a start-time CPU boost's end needs: the plan's quota, and the tier that says where it lives. */
export type CpuLimits = Pick<RuntimeSpec, 'plan' | 'isolation'>;

export const RUNTIME_STATES = ['running', 'paused', 'stopped', 'starting', 'unknown'] as const;
export type RuntimeState = (typeof RUNTIME_STATES)[number];

/** Who keeps a paused runtime frozen: the engine, or the supervisor in the runtime's host cgroup. */
export type PausedBy = 'engine' | 'host';

export interface RuntimeExit {
  code: number;
  oomKilled: boolean;
  finishedAt: string;
}

export interface RuntimeInfo {
  tenantId: string;
  runtimeId: string;
  state: RuntimeState;
  specHash: string;
  generation: number;
  endpoint: RuntimeEndpoint;
  image: string;
  /** How the process last ended, when it is not running. */
  exit?: RuntimeExit;
  /** When the container was created (ISO): the age that maximum-age recycling reads. */
  createdAt?: string;
  /** The kernel's OOM killer struck inside it (some process hit the memory limit), running or not. */
  oomKilled?: boolean;
  /**
   * Its CPU quota per period now (µs), where the driver knows it: above the plan's only while a
   * start-time boost is in force (docs/cpu-boost.md).
   */
  cpuQuota?: number;
  /** Of a paused runtime, where the driver pauses in more than one way: what `resume` thaws it with. */
  pausedBy?: PausedBy;
}

/** Every container carrying this installation's labels, tenant runtimes or helpers, by id. */
export interface OwnedRuntime {
  runtimeId: string;
  name: string;
  tenantId: string | undefined;
  role: string | undefined;
  /** Whether the name is the canonical one for its tenant (a second container is a duplicate). */
  canonical: boolean;
  /** Creation time, ms since the epoch: a helper is removed only once it is clearly abandoned. */
  createdAtMs: number;
}

export interface RuntimeUsage {
  memoryBytes: number;
  memoryLimitBytes: number;
  /** Highest memory use since the container started: at the limit means the OOM killer ran. */
  memoryPeakBytes: number;
  cpuSeconds: number;
  /**
   * How long its processes waited past the plan's CPU quota since the container started (the
   * cgroup's throttled time): calls slowed by the tenant's own plan, not by the machine.
   */
  cpuThrottledSeconds: number;
  pids: number;
  pidsLimit: number;
  /**
   * Forks refused at the PIDs limit since the container started (a counter, unlike `pids`);
   * undefined where the driver cannot read it.
   */
  pidsRefused?: number | undefined;
}

export interface EnsureOptions {
  /** The generation label of a container this call creates (the controller counts replacements). */
  generation: number;
  /**
   * The secrets of the tenant's packs, asked for only when a process is about to start (create, or
   * wake from stopped) and handed to that process alone: never part of the spec, its hash or labels.
   */
  secrets?: () => Promise<PackSecrets>;
  /**
   * A start-time CPU boost: a process this call starts runs with this CPU quota per period instead
   * of the plan's, until the caller puts the plan's back (`restoreCpu`). Unset: the plan's quota.
   */
  startCpuQuota?: number | undefined;
  /**
   * The caller ran `prepareSocketDir` for this very start (the controller does, outside the create
   * cap), so a create does not empty the directory a second time. Unset: a create prepares it
   * first itself, as a caller that did not must have it.
   */
  socketDirPrepared?: boolean;
}

export interface RemoveOptions {
  /** Also destroy the tenant's data volume and socket directory (offboarding only). */
  purgeData: boolean;
  /**
   * Stop first and give the runtime this long to finish in-flight calls (SIGTERM, then the
   * engine kills it); without it the container is removed at once.
   */
  drainSeconds?: number;
}

export interface StopOptions {
  /** Seconds between SIGTERM and the engine's SIGKILL. */
  graceSeconds: number;
}

/**
 * The port is a plain adapter: it does what it is told and decides nothing (reuse or replace,
 * drain, limits, retries all belong to the lifecycle controller).
 */
export interface RuntimeDriver {
  /**
   * Make this spec's container exist and run: create it if absent, start it if stopped. Throws
   * when a container with another spec exists: replacing is the controller's call (remove first).
   */
  ensure(spec: RuntimeSpec, options: EnsureOptions): Promise<RuntimeInfo>;
  /** The tenant's data volume made and ready for its UID, with no container: what `ensure` does first. */
  prepareVolume(spec: RuntimeSpec): Promise<void>;
  /**
   * The tenant's socket directory emptied of whatever a runtime left there and made for its UID;
   * only while no process of the tenant runs (no container, or a stopped one). It may take long:
   * the tenant may have filled the directory. A create by `ensure` does it first unless its caller
   * says it did (`socketDirPrepared`).
   */
  prepareSocketDir(spec: RuntimeSpec): Promise<void>;
  stop(tenantId: string, options: StopOptions): Promise<void>;
  pause(tenantId: string): Promise<void>;
  /** Unpauses a runtime known to be paused, without a fresh inspect (the fast wake path). */
  resume(info: RuntimeInfo): Promise<RuntimeInfo>;
  inspect(tenantId: string): Promise<RuntimeInfo | undefined>;
  list(): Promise<RuntimeInfo[]>;
  remove(tenantId: string, options: RemoveOptions): Promise<void>;
  /** For reconciliation: everything labelled as this installation's, including strays. */
  listOwned(): Promise<OwnedRuntime[]>;
  removeById(runtimeId: string): Promise<void>;
  /** Whether the tenant's socket directory exists on the host. */
  socketDirExists(tenantId: string): Promise<boolean>;
  /**
   * Puts the plan's CPU quota back on the tenant's container (the end of a start-time boost),
   * whatever its state; nothing when it has no container. The tier says where the boost is.
   */
  restoreCpu(tenantId: string, limits: CpuLimits): Promise<void>;
  /** Memory, CPU and PIDs of a running runtime, for metrics and limit checks. */
  usage(tenantId: string): Promise<RuntimeUsage | undefined>;
}

/** What observers (health pass, idle tiers, reconciliation, metrics) may do: look, never change. */
export type RuntimeView = Pick<RuntimeDriver, 'inspect' | 'list' | 'listOwned' | 'usage' | 'socketDirExists'>;

/** The driver calls that change something: each one is the act of one lifecycle transition. */
// (`restoreCpu` is none: it changes no lifecycle state, and only ever lowers a quota to the plan's;
// nor are `prepareVolume` and `prepareSocketDir`: the tenant stays as it was, under its lock,
// tenant-gate.ts.)
export const MUTATING_OPS = ['ensure', 'stop', 'pause', 'resume', 'remove', 'removeById'] as const;
