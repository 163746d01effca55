// Sends tools/list_changed when what a tenant is served changes: its pins or status in the registry
// (an upgrade, a suspension), a pack it pins re-approved, or a tool withheld or restored by the drift
// guard. The router's scheduler runs a poll of the registry on a bounded interval; clients that listen
// (2026-07-28 subscriptions/listen) re-list and see their own tools. Each change names the tenants it
// concerns and reaches only their streams (router/mcp/tenant-listeners.ts): another tenant's clients
// must not learn when this one is upgraded or suspended, nor all re-list on every tenant's change.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { PackCatalog } from './pack-catalog.ts';

export interface TenantSource {
  list(): Promise<TenantRecord[]>;
}

/** One tenant of an id: a tenant onboarded again under an id is another, with a later `createdAt`. */
export interface TenantIncarnation {
  id: string;
  createdAt: string;
}

/** A change of served tool lists: the tenants it concerns, and why. */
export interface ToolChange {
  tenants: readonly string[];
  reason: string;
  /**
   * Tenants gone since the last pass (offboarded, or offboarded and onboarded again under the id):
   * nothing more of that id is theirs.
   */
  gone?: readonly TenantIncarnation[];
}

export interface PinWatcherOptions {
  source: TenantSource;
  logger: Logger;
  /** Called for each changed tenant before clients are told, so their re-list sees the change. */
  invalidate?: (tenantId: string) => void;
  /** Approved pack tools, reloaded on every pass; a pinned pack re-approved counts as a change. */
  packs?: PackCatalog;
}

export class PinWatcher {
  /** Each tenant's digest at the last pass that listed it, and its record's `createdAt` then. */
  private readonly seen = new Map<string, { digest: string; createdAt: string }>();
  private readonly listeners: ((change: ToolChange) => void)[] = [];
  private readonly options: PinWatcherOptions;

  constructor(options: PinWatcherOptions) {
    this.options = options;
  }

  subscribe(listener: (change: ToolChange) => void): void {
    this.listeners.push(listener);
  }

  notify(change: ToolChange): void {
    if (change.tenants.length === 0 && !change.gone?.length) return;
    if (change.tenants.length > 0)
      this.options.logger.info({ tenants: change.tenants, reason: change.reason }, 'tools/list_changed');
    for (const listener of this.listeners) listener(change);
  }

  /** One pass: compares every tenant's pins and status with the last pass that listed it. */
  async poll(): Promise<void> {
    const changed: string[] = [];
    const gone: TenantIncarnation[] = [];
    const tenants = await this.options.source.list();
    const packs = this.options.packs;
    await packs?.refresh(tenants);
    for (const tenant of tenants) {
      const approvals = tenant.packs.map((pin) => packs?.approvedAtOf(pin) ?? null);
      const digest = createHash('sha256')
        .update(JSON.stringify([tenant.status, tenant.tools, tenant.packs, approvals]))
        .digest('hex');
      const before = this.seen.get(tenant.id);
      // Onboarded again under the id since the last pass: the earlier tenant is gone, and this one
      // starts from its own first pass (its clients are told of no change between the two).
      if (before !== undefined && before.createdAt !== tenant.createdAt) {
        gone.push({ id: tenant.id, createdAt: before.createdAt });
        this.options.invalidate?.(tenant.id);
      } else if (before !== undefined && before.digest !== digest) changed.push(tenant.id);
      this.seen.set(tenant.id, { digest, createdAt: tenant.createdAt });
    }
    // An offboarded tenant is forgotten (and its cached record dropped): a tenant later onboarded
    // under the same id starts from its own first pass.
    const listed = new Set(tenants.map((tenant) => tenant.id));
    for (const [id, before] of this.seen) {
      if (listed.has(id)) continue;
      this.seen.delete(id);
      gone.push({ id, createdAt: before.createdAt });
      this.options.invalidate?.(id);
    }
    for (const id of changed) this.options.invalidate?.(id);
    this.notify({ tenants: changed, gone, reason: 'tool pins, status or pack approvals changed' });
  }
}
