// What keeps a rollout (runtimes replaced a few a health pass for a spec change or their age) from
// replacing the fleet's working runtimes with failing ones: the replacements that failed, each
// holding one of a pass's replacements back, so a broken image or default halts the rollout after
// as many failures as a pass replaces (health-monitor.ts uses it).
//
// A replacement fails when its new runtime does not come up, or when it comes up and then fails
// within the probation window: it crashes, hits a limit, fails its probes or is replaced again on
// the same spec (a call found it crashed first). A failed one is settled by its runtime answering a
// probe on the spec it failed on once it has run for the probation window (an image fixed under
// the same name), by another spec for its tenant (a fix rolled out) or by its tenant's end. The
// failures and the probations are kept in the ledger too, read once: a restarted supervisor holds
// back and watches as the one before it did.
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeInfo } from '../runtime/runtime-driver.ts';
import { isCrash } from './observation-policy.ts';
import type { Probation, RolloutLedger } from './rollout-ledger.ts';

export interface RolloutGuardOptions {
  /** Keeps the failed replacements and those on probation across restarts (default: memory alone). */
  ledger?: RolloutLedger | undefined;
  /** How long a replacement that came up is watched for a failure (0: only its coming up). */
  probationMs?: number | undefined;
  /** A tenant's spec hash now; undefined: not known now (RuntimeController.specHashOf). */
  specHashOf: (tenant: TenantRecord) => Promise<string | undefined>;
}

export class RolloutGuard {
  private readonly options: RolloutGuardOptions;
  /** Tenant to the spec hash its replacement failed on. */
  private readonly failed = new Map<string, string>();
  private readonly onProbation = new Map<string, Probation>();
  private ledgerRead = false;

  constructor(options: RolloutGuardOptions) {
    this.options = options;
  }

  /** Replacements that failed, not settled since. */
  get failedCount(): number {
    return this.failed.size;
  }

  /** By tenant id: a pass's replacements fail in whatever order their health waits run out. */
  get failedTenants(): string[] {
    return [...this.failed.keys()].sort();
  }

  /** How many of `perPass` replacements a pass may start: the failed ones not settled take their place. */
  budget(perPass: number | undefined, due: number): number {
    return perPass === undefined ? due : Math.max(0, perPass - this.failed.size);
  }

  /**
   * The start of a pass, before its budget is set: the failures a supervisor before this one kept
   * (once); the probations past their window or whose tenant is gone, not active or given another
   * spec since; the replacements on probation the listing shows crashed or made again since (a
   * call found it crashed first); then the failures whose tenant is gone, not active or given
   * another spec since (`read`: the records the pass read, by tenant).
   */
  async beginPass(
    runtimes: RuntimeInfo[],
    read: Map<string, TenantRecord | undefined>,
    get: Getter,
  ): Promise<void> {
    if (!this.ledgerRead && this.options.ledger) {
      const kept = await this.options.ledger.load();
      for (const [tenantId, hash] of kept.failed) this.failed.set(tenantId, hash);
      for (const [tenantId, watched] of kept.probation) this.onProbation.set(tenantId, watched);
      this.ledgerRead = true;
    }
    const now = Date.now();
    for (const [tenantId, watched] of this.onProbation)
      if (now > watched.until || !(await this.stillOn(tenantId, watched.specHash, read, get)))
        await this.endProbation(tenantId);
    for (const info of runtimes) await this.failedOnProbation(info, isCrash(info));
    for (const [tenantId, hash] of this.failed)
      if (!(await this.stillOn(tenantId, hash, read, get))) await this.settle(tenantId);
  }

  /** A replacement this pass started (of runtime `replaced`) came up: it is watched for the probation window. */
  async cameUp(tenant: TenantRecord, replaced: RuntimeInfo): Promise<void> {
    const probationMs = this.options.probationMs ?? 0;
    const specHash = await this.options.specHashOf(tenant);
    if (probationMs <= 0 || specHash === undefined) return;
    const watched: Probation = {
      specHash,
      // A replacement is the next generation of the runtime it replaces (RuntimeController.bringUp).
      generation: replaced.generation + 1,
      until: Date.now() + probationMs,
    };
    this.onProbation.set(tenant.id, watched);
    await this.options.ledger?.setProbation(tenant.id, watched);
  }

  /** A replacement this pass started did not come up, on the tenant's current spec. */
  async failedToComeUp(tenant: TenantRecord): Promise<void> {
    const specHash = await this.options.specHashOf(tenant);
    if (specHash !== undefined) await this.fail(tenant.id, specHash);
  }

  /**
   * What a pass saw of a runtime it did not replace: `broken` when it crashed, hit a limit, had
   * its socket tampered with or failed its probes; `healthy` when it answered a probe.
   */
  async looked(info: RuntimeInfo, seen: { broken: boolean; healthy: boolean }): Promise<void> {
    if (seen.broken && (await this.failedOnProbation(info))) return;
    if (!seen.healthy || this.failed.get(info.tenantId) !== info.specHash) return;
    // Healthy on the spec it failed on, and for the whole window (a crash-looper answers between crashes).
    if (Date.now() - Date.parse(info.createdAt ?? '') >= (this.options.probationMs ?? 0))
      await this.settle(info.tenantId);
  }

  /**
   * A replacement on probation failed: `info` (its runtime, on the spec it was replaced onto) is
   * broken, or is a later generation than the replacement made.
   */
  private async failedOnProbation(info: RuntimeInfo, broken = true): Promise<boolean> {
    const watched = this.onProbation.get(info.tenantId);
    if (!watched || info.specHash !== watched.specHash) return false;
    if (!broken && info.generation <= watched.generation) return false;
    await this.endProbation(info.tenantId);
    await this.fail(info.tenantId, watched.specHash);
    return true;
  }

  private async endProbation(tenantId: string): Promise<void> {
    this.onProbation.delete(tenantId);
    await this.options.ledger?.deleteProbation(tenantId);
  }

  private async fail(tenantId: string, specHash: string): Promise<void> {
    this.failed.set(tenantId, specHash);
    await this.options.ledger?.setFailed(tenantId, specHash);
  }

  private async settle(tenantId: string): Promise<void> {
    this.failed.delete(tenantId);
    await this.options.ledger?.deleteFailed(tenantId);
  }

  /**
   * Whether the tenant is active with this spec hash (read from the pass's records when it listed
   * one). A spec not known now (a pack tenant's image not found) is taken for the same: a failure
   * or a probation ends on a spec seen to change, never on one not seen.
   */
  private async stillOn(
    tenantId: string,
    hash: string,
    read: Map<string, TenantRecord | undefined>,
    get: Getter,
  ): Promise<boolean> {
    // The pass read the records of the tenants it lists; only one without a runtime is read here.
    const tenant = read.has(tenantId) ? read.get(tenantId) : await get(tenantId);
    if (tenant?.status !== 'active') return false;
    const now = await this.options.specHashOf(tenant);
    return now === undefined || now === hash;
  }
}

type Getter = (tenantId: string) => Promise<TenantRecord | undefined>;
