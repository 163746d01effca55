// The periodic health pass over every tenant runtime: crash detection, a look at its limits, and an
// MCP-level probe over its socket (a JSON-RPC ping through the runtime's MCP handler plus a store
// read). It only looks (a read-only view of the driver) and reports one observation per runtime to
// the lifecycle controller, which decides: a crash, a limit hit (out of memory, a fork refused at
// the PIDs limit), a tampered socket, `failuresBeforeRecycle` failed probes in a row, a spec change
// or the maximum age recycle the runtime, unless the tenant's crash circuit is open.
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeInfo, RuntimeView } from '../runtime/runtime-driver.ts';
import { isCrash, limitReached, overAge, type RuntimeObservation } from './observation-policy.ts';
import { RecentLog } from './recent-log.ts';
import { RolloutGuard } from './rollout-guard.ts';
import type { RolloutLedger } from './rollout-ledger.ts';
import type { RuntimeController } from './runtime-controller.ts';

// Where docs and tests have always found them.
export { PIDS_SATURATION, pidsLimitReached } from './observation-policy.ts';

export interface HealthMonitorOptions {
  view: Pick<RuntimeView, 'list' | 'usage'>;
  controller: Pick<RuntimeController, 'observe' | 'check' | 'specHashOf' | 'endLeftoverBoost'>;
  tenants: { get(id: string): Promise<TenantRecord | undefined> };
  /** Recycle a runtime older than this (default: no maximum age). */
  maxAgeMs?: number | undefined;
  /**
   * At most this many runtimes replaced in one pass for a spec change or their age, the oldest
   * first (default: no limit). The others keep serving from their container until a later pass:
   * an upgrade that changes every tenant's spec rolls through the fleet instead of holding every
   * tenant's calls at once while the creates queue behind the create cap. A runtime that failed
   * (crashed, hit a limit, failed its probes, its socket tampered with) is never held back.
   */
  replacementsPerPass?: number | undefined;
  /** Told of a pass that holds replacements back (an upgrade rolling, or halted by failures). */
  logger?: Pick<Logger, 'info' | 'warn'> | undefined;
  /** Told after each pass how many runtimes were due to be replaced and how many replacements failed (metrics). */
  onPass?: ((pass: RolloutPass) => void) | undefined;
  /** Keeps the failed replacements and those on probation across restarts (default: memory alone). */
  ledger?: RolloutLedger | undefined;
  /**
   * How long a replacement that came up is watched: failing within it (a crash, a limit, failed
   * probes) counts as a failed replacement, as not coming up does (default 0: only coming up).
   */
  probationMs?: number | undefined;
}

/** One health pass's rollout figures. */
export interface RolloutPass {
  /** Running runtimes due to be replaced for a spec change or their age. */
  due: number;
  /** Replacements this monitor started that failed (rollout-guard.ts), not settled since. */
  failed: number;
}

type Replacement = Extract<RuntimeObservation['kind'], 'spec-changed' | 'max-age'>;

export class HealthMonitor {
  private readonly options: HealthMonitorOptions;
  /** The last recycles started, with their reason (bounded; `total` counts all). */
  readonly recycled = new RecentLog<{ tenantId: string; reason: string }>();
  /** The replacements that failed, each holding one of a pass's replacements back. */
  private readonly rollout: RolloutGuard;

  constructor(options: HealthMonitorOptions) {
    this.options = options;
    this.rollout = new RolloutGuard({
      ledger: options.ledger,
      probationMs: options.probationMs,
      specHashOf: (tenant) => options.controller.specHashOf(tenant),
    });
  }

  async runOnce(): Promise<void> {
    const runtimes = await this.options.view.list();
    const tenants = await Promise.all(runtimes.map((info) => this.options.tenants.get(info.tenantId)));
    await this.rollout.beginPass(
      runtimes,
      new Map(runtimes.map((info, at) => [info.tenantId, tenants[at]])),
      (id) => this.options.tenants.get(id),
    );
    // Each tenant's spec now, undefined where not known (a pack tenant's image not found): such a
    // runtime is not due for a spec change (controller-parts.ts, currentSpecHash).
    const specs = await Promise.all(
      tenants.map((t) => (t ? this.options.controller.specHashOf(t) : Promise.resolve(undefined))),
    );
    const due = this.due(runtimes, specs);
    const now = due.slice(0, this.rollout.budget(this.options.replacementsPerPass, due.length));
    this.tellHeldBack(due.length, now);
    const replacing = new Map(now.map(({ info, kind }) => [info.runtimeId, kind]));
    await Promise.all(
      runtimes.map(async (info, at) => {
        const tenant = tenants[at];
        const observation = await this.look(info, tenant, replacing.get(info.runtimeId));
        if (!observation) return;
        const decision = await this.options.controller.observe(observation, tenant);
        const recycled = decision.acted && decision.event === 'recycle';
        if (recycled) this.recycled.push({ tenantId: info.tenantId, reason: decision.reason });
        if (tenant && replacing.has(info.runtimeId)) {
          if (!recycled) return;
          if (decision.error === undefined) await this.rollout.cameUp(tenant, info);
          else await this.rollout.failedToComeUp(tenant);
          return;
        }
        const probed = observation.kind === 'probe' ? observation.health : undefined;
        await this.rollout.looked(info, {
          // Recycled as failed, or broken and left (its tenant's crash circuit open).
          broken: recycled || probed === 'tampered' || probed === undefined,
          healthy: probed === 'healthy',
        });
      }),
    );
    this.options.onPass?.({ due: due.length, failed: this.rollout.failedCount });
  }

  private tellHeldBack(due: number, now: { info: RuntimeInfo }[]): void {
    if (now.length === due) return;
    const fields = { due, now: now.length, tenants: now.map(({ info }) => info.tenantId) };
    if (this.rollout.failedCount === 0) {
      this.options.logger?.info(
        fields,
        'replacing runtimes of an older spec or past their age, the rest in later passes',
      );
      return;
    }
    this.options.logger?.warn(
      { ...fields, failed: this.rollout.failedTenants },
      'rollout held back: replacements that failed take the place of new ones until they run healthy',
    );
  }

  /** The running runtimes due to be replaced for a spec change or their age, and why, the oldest first. */
  private due(
    runtimes: RuntimeInfo[],
    specs: (string | undefined)[],
  ): { info: RuntimeInfo; kind: Replacement }[] {
    const due = runtimes.flatMap((info, at) => {
      const kind =
        info.state === 'running' && !info.oomKilled ? this.replacement(info, specs[at]) : undefined;
      return kind ? [{ info, kind }] : [];
    });
    return due.sort((a, b) => Date.parse(a.info.createdAt ?? '') - Date.parse(b.info.createdAt ?? ''));
  }

  /** Why a runtime that works is due to be replaced, if it is (`spec`: its tenant's spec hash now). */
  private replacement(info: RuntimeInfo, spec: string | undefined): Replacement | undefined {
    if (spec !== undefined && spec !== info.specHash) return 'spec-changed';
    if (overAge(info.createdAt, this.options.maxAgeMs, Date.now())) return 'max-age';
    return undefined;
  }

  /**
   * The facts about one runtime, cheapest first: the probe runs only when nothing else is wrong.
   * `replacement`: why this pass replaces it, when it is one of the few it replaces; one due but
   * left for a later pass is looked at as any other.
   */
  private async look(
    info: RuntimeInfo,
    tenant: TenantRecord | undefined,
    replacement: Replacement | undefined,
  ): Promise<RuntimeObservation | undefined> {
    const { controller } = this.options;
    if (isCrash(info)) return { kind: 'crashed', info };
    // A start-time CPU boost outliving its start (its supervisor died): the plan's quota again.
    if (tenant && (info.state === 'running' || info.state === 'paused'))
      await controller.endLeftoverBoost(info, tenant);
    if (info.state !== 'running') return undefined;
    // A process inside hit the memory limit and was killed: the survivor may be damaged.
    if (info.oomKilled) return { kind: 'limit', info, reason: 'out of memory' };
    if (replacement) return { kind: replacement, info };
    const usage = await this.options.view.usage(info.tenantId).catch(() => undefined);
    const limit = usage && limitReached(usage);
    if (limit) return { kind: 'limit', info, reason: limit };
    return { kind: 'probe', info, health: await controller.check(info, 'supervisor-health') };
  }
}
