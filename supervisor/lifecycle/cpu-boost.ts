// The start-time CPU boost (docs/cpu-boost.md). A start (the runtime's Node and its reference pack's,
// side by side) uses more CPU before its first answer than plan small's quota gives in one period,
// and then waits for the next period. So a runtime starts with a larger quota, and the plan's is put
// back once it has answered, and in any case at a hard deadline from its start, whether it answered,
// hangs, crashed or is being replaced: one bounded boost per start, none for a start beside others
// (a burst), and none for a tenant whose last boost began less than an interval ago. Each start's
// boost is given anew (the driver starts a process with the plan's quota unless given one). The
// deadline is a timer of this process; a boost that a supervisor which died left behind is ended by
// the next supervisor's health pass (`endLeftover`).
import type { Logger } from 'pino';
import { cpuLimitFor, startCpuLimitFor } from '../runtime/runtime-cpu.ts';
import type { CpuLimits, RuntimeDriver, RuntimeInfo, RuntimeSpec } from '../runtime/runtime-driver.ts';

export interface CpuBoostOptions {
  driver: Pick<RuntimeDriver, 'restoreCpu'>;
  /** CPUs per period a starting runtime may use (0: no boost). */
  cpus: number;
  /** The hard deadline, from just before the engine starts the process. */
  deadlineMs: number;
  /**
   * The least time between the beginnings of two boosts of one tenant. A runtime that ends itself
   * right after it answers is started again on the next call, and the crash circuit opens only at
   * its third end in a minute: without this, such a loop would hold the boost much of the time.
   */
  intervalMs: number;
  logger: Logger;
}

/** One start's boost: the quota the process starts with, and when it must have ended. */
export interface StartBoost {
  tenantId: string;
  /** The plan and tier of the start: what the restore puts back, and where. */
  limits: CpuLimits;
  quota: number;
  deadline: number;
}

interface Held {
  boost: StartBoost;
  timer: NodeJS.Timeout;
  /** Resolves once the boost is over (its restore done, or a newer start took its place). */
  over: Promise<void>;
  release: () => void;
}

export class CpuBoosts {
  private readonly options: CpuBoostOptions;
  private readonly held = new Map<string, Held>();
  /** The restores under way per tenant, chained: they reach the engine in the order asked. */
  private readonly restoring = new Map<string, Promise<void>>();
  /** When each tenant's last boost began (entries older than the interval are dropped). */
  private readonly lastBegun = new Map<string, number>();
  /** Starts under way in this process, boosted or not, from before the create cap to the answer. */
  private underWay = 0;

  constructor(options: CpuBoostOptions) {
    this.options = options;
  }

  /**
   * A boost for the start about to be made (undefined: none for this spec), its deadline armed.
   * Called under the tenant's lock, after any earlier process of the tenant was stopped or removed.
   */
  begin(spec: RuntimeSpec): StartBoost | undefined {
    const limit = startCpuLimitFor(spec.plan, this.options.cpus);
    // Only a start alone: the boost is for cores no one uses. With other starts under way (a burst)
    // there are none, and boosted starts only took more CPU each (docs/cpu-boost.md, "Measured").
    if (!limit || this.underWay > 1 || !this.mayBegin(spec.tenantId)) return undefined;
    const previous = this.held.get(spec.tenantId);
    if (previous) {
      // Its process is gone (stopped or removed before this start): only its timer is left.
      clearTimeout(previous.timer);
      previous.release();
    }
    const boost = {
      tenantId: spec.tenantId,
      limits: { plan: spec.plan, isolation: spec.isolation },
      quota: limit.CpuQuota,
      deadline: Date.now() + this.options.deadlineMs,
    };
    let release = (): void => undefined;
    const over = new Promise<void>((resolve) => (release = resolve));
    const timer = setTimeout(() => void this.end(spec.tenantId, 'deadline'), this.options.deadlineMs);
    // A supervisor may exit with a boost in force: the next one's health pass ends it.
    timer.unref();
    this.held.set(spec.tenantId, { boost, timer, over, release });
    return boost;
  }

  /** Counts `work` (a start, to its first answer or its failure) as a start under way. */
  async whileStarting<T>(work: () => Promise<T>): Promise<T> {
    this.underWay += 1;
    try {
      return await work();
    } finally {
      this.underWay -= 1;
    }
  }

  /** Whether the tenant's last boost began at least the interval ago; if so, one begins now. */
  private mayBegin(tenantId: string): boolean {
    const now = Date.now();
    const last = this.lastBegun.get(tenantId);
    if (last !== undefined && now - last < this.options.intervalMs) return false;
    if (this.lastBegun.size >= 10_000)
      for (const [id, at] of this.lastBegun)
        if (now - at >= this.options.intervalMs) this.lastBegun.delete(id);
    this.lastBegun.set(tenantId, now);
    return true;
  }

  /**
   * After the engine's start returned. A deadline that passed meanwhile had its restore sent while
   * the start was under way, possibly before the start's own update: the plan's quota again.
   */
  started(boost: StartBoost): void {
    if (Date.now() >= boost.deadline)
      void this.restore(boost.tenantId, boost.limits, 'deadline passed during the start');
  }

  /** Ends the tenant's boost now (ready, failed, deadline): the plan's quota is put back. */
  end(tenantId: string, why: string): Promise<void> {
    const held = this.held.get(tenantId);
    if (!held) return this.restoring.get(tenantId) ?? Promise.resolve();
    clearTimeout(held.timer);
    this.held.delete(tenantId);
    const done = this.restore(tenantId, held.boost.limits, why);
    void done.then(held.release);
    return done;
  }

  /**
   * Resolves once no boost this process gave the tenant is in force any more: at most the
   * deadline, plus the engine's update. `verify` waits for it before it reads the live limit.
   */
  async settled(tenantId: string): Promise<void> {
    // Bounded: each turn waits out one boost, and a boost only begins under the tenant's lock.
    for (let turn = 0; turn < 3; turn++) {
      const held = this.held.get(tenantId);
      if (!held) break;
      await held.over;
    }
    await this.restoring.get(tenantId);
  }

  /**
   * The health pass's look at a runtime's live quota: above the plan's with no boost of this
   * process in force (a supervisor that died during a start left it), it is put back.
   */
  async endLeftover(info: RuntimeInfo, limits: CpuLimits): Promise<void> {
    if (this.held.has(info.tenantId) || info.cpuQuota === undefined) return;
    if (info.cpuQuota <= cpuLimitFor(limits.plan).CpuQuota) return;
    this.options.logger.warn(
      { tenant: info.tenantId, cpuQuota: info.cpuQuota },
      'a start-time CPU boost outlived its start: the plan quota is put back',
    );
    await this.restore(info.tenantId, limits, 'left over');
  }

  /** At shutdown: every boost in force ends now rather than outliving this process. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.held.keys()].map((tenantId) => this.end(tenantId, 'shutdown')));
  }

  private restore(tenantId: string, limits: CpuLimits, why: string): Promise<void> {
    const previous = this.restoring.get(tenantId) ?? Promise.resolve();
    const next = previous
      .then(() => this.options.driver.restoreCpu(tenantId, limits))
      .catch((error: unknown) =>
        // The health pass tries again (`endLeftover`); until then verify fails this runtime.
        this.options.logger.warn({ tenant: tenantId, err: error, why }, 'CPU boost not ended'),
      );
    this.restoring.set(tenantId, next);
    void next.then(() => {
      if (this.restoring.get(tenantId) === next) this.restoring.delete(tenantId);
    });
    return next;
  }
}
