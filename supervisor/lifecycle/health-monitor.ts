// The periodic health pass over every tenant runtime: crash detection, a look at its limits, and an
// MCP-level probe over its socket (a JSON-RPC ping through the runtime's MCP handler plus a store
// read). It only looks (a read-only view of the driver) and reports one observation per runtime to
// the lifecycle controller, which decides: a crash, a limit hit (out of memory, a fork refused at
// the PIDs limit), a tampered socket, `failuresBeforeRecycle` failed probes in a row, a spec change
// or the maximum age recycle the runtime, unless the tenant's crash circuit is open.
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeInfo, RuntimeView } from '../runtime/runtime-driver.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { isCrash, limitReached, overAge, type RuntimeObservation } from './observation-policy.ts';
import { RecentLog } from './recent-log.ts';
import type { RolloutLedger } from './rollout-ledger.ts';
import type { RuntimeController } from './runtime-controller.ts';

// Where docs and tests have always found them.
export { PIDS_SATURATION, pidsLimitReached } from './observation-policy.ts';

export interface HealthMonitorOptions {
  view: Pick<RuntimeView, 'list' | 'usage'>;
  controller: Pick<RuntimeController, 'observe' | 'check' | 'specFor' | 'endLeftoverBoost'>;
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
  /** Keeps the failed replacements across restarts (default: this process's memory alone). */
  ledger?: RolloutLedger | undefined;
}

/** One health pass's rollout figures. */
export interface RolloutPass {
  /** Running runtimes due to be replaced for a spec change or their age. */
  due: number;
  /** Replacements this monitor started whose new runtime did not come up, not settled since. */
  failed: number;
}

type Replacement = Extract<RuntimeObservation['kind'], 'spec-changed' | 'max-age'>;

export class HealthMonitor {
  private readonly options: HealthMonitorOptions;
  /** The last recycles started, with their reason (bounded; `total` counts all). */
  readonly recycled = new RecentLog<{ tenantId: string; reason: string }>();
  /**
   * Tenants whose replacement (a spec change or age) this monitor started and whose new runtime
   * did not come up, with the spec hash it failed on. Each holds one of a pass's replacements back,
   * so a broken image or default halts a rollout after `replacementsPerPass` failures instead of
   * replacing the whole fleet's working runtimes with failing ones. One is settled by a healthy
   * probe of its runtime on that spec, by another spec for the tenant (a fix rolled out) or by the
   * tenant's end. Kept in the ledger too, read at the first pass: a restarted supervisor holds back
   * as the one before it did.
   */
  private readonly failedReplacements = new Map<string, string>();
  private ledgerRead = false;

  constructor(options: HealthMonitorOptions) {
    this.options = options;
  }

  async runOnce(): Promise<void> {
    const runtimes = await this.options.view.list();
    const tenants = await Promise.all(runtimes.map((info) => this.options.tenants.get(info.tenantId)));
    await this.readLedger();
    await this.settleSuperseded(new Map(runtimes.map((info, at) => [info.tenantId, tenants[at]])));
    const due = this.due(runtimes, tenants);
    const now = due.slice(0, this.budget(due.length));
    this.tellHeldBack(due.length, now);
    const replacing = new Map(now.map(({ info, kind }) => [info.runtimeId, kind]));
    await Promise.all(
      runtimes.map(async (info, at) => {
        const tenant = tenants[at];
        const observation = await this.look(info, tenant, replacing.get(info.runtimeId));
        if (!observation) return;
        await this.settleIfHealthy(observation);
        const decision = await this.options.controller.observe(observation, tenant);
        if (!decision.acted || decision.event !== 'recycle') return;
        this.recycled.push({ tenantId: info.tenantId, reason: decision.reason });
        if (decision.error !== undefined && tenant && replacing.has(info.runtimeId)) {
          const failedHash = specHash(this.options.controller.specFor(tenant));
          this.failedReplacements.set(info.tenantId, failedHash);
          await this.options.ledger?.set(info.tenantId, failedHash);
        }
      }),
    );
    this.options.onPass?.({ due: due.length, failed: this.failedReplacements.size });
  }

  /** How many of the due replacements this pass starts: the failed ones not settled take their place. */
  private budget(due: number): number {
    const perPass = this.options.replacementsPerPass;
    return perPass === undefined ? due : Math.max(0, perPass - this.failedReplacements.size);
  }

  private tellHeldBack(due: number, now: { info: RuntimeInfo }[]): void {
    if (now.length === due) return;
    const fields = { due, now: now.length, tenants: now.map(({ info }) => info.tenantId) };
    if (this.failedReplacements.size === 0) {
      this.options.logger?.info(
        fields,
        'replacing runtimes of an older spec or past their age, the rest in later passes',
      );
      return;
    }
    this.options.logger?.warn(
      { ...fields, failed: [...this.failedReplacements.keys()] },
      'rollout held back: replacements that did not come up take the place of new ones until they run healthy',
    );
  }

  /** The failed replacements a supervisor before this one kept, once. */
  private async readLedger(): Promise<void> {
    if (this.ledgerRead || !this.options.ledger) return;
    for (const [tenantId, failedHash] of await this.options.ledger.load())
      this.failedReplacements.set(tenantId, failedHash);
    this.ledgerRead = true;
  }

  private async settle(tenantId: string): Promise<void> {
    this.failedReplacements.delete(tenantId);
    await this.options.ledger?.delete(tenantId);
  }

  /** A failed replacement whose tenant is gone, no longer active, or given another spec since (`read`: the records this pass read). */
  private async settleSuperseded(read: Map<string, TenantRecord | undefined>): Promise<void> {
    for (const [tenantId, failedHash] of this.failedReplacements) {
      // This pass read the records of the tenants it lists; only one without a runtime is read here.
      const tenant = read.has(tenantId) ? read.get(tenantId) : await this.options.tenants.get(tenantId);
      if (
        !tenant ||
        tenant.status !== 'active' ||
        specHash(this.options.controller.specFor(tenant)) !== failedHash
      )
        await this.settle(tenantId);
    }
  }

  /** A failed replacement whose tenant's runtime now answers on the spec it failed on. */
  private async settleIfHealthy(observation: RuntimeObservation): Promise<void> {
    const { info } = observation;
    if (observation.kind === 'probe' && observation.health === 'healthy')
      if (this.failedReplacements.get(info.tenantId) === info.specHash) await this.settle(info.tenantId);
  }

  /** The running runtimes due to be replaced for a spec change or their age, and why, the oldest first. */
  private due(
    runtimes: RuntimeInfo[],
    tenants: (TenantRecord | undefined)[],
  ): { info: RuntimeInfo; kind: Replacement }[] {
    const due = runtimes.flatMap((info, at) => {
      const kind =
        info.state === 'running' && !info.oomKilled ? this.replacement(info, tenants[at]) : undefined;
      return kind ? [{ info, kind }] : [];
    });
    return due.sort((a, b) => Date.parse(a.info.createdAt ?? '') - Date.parse(b.info.createdAt ?? ''));
  }

  /** Why a runtime that works is due to be replaced, if it is. */
  private replacement(info: RuntimeInfo, tenant: TenantRecord | undefined): Replacement | undefined {
    if (tenant && specHash(this.options.controller.specFor(tenant)) !== info.specHash) return 'spec-changed';
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
