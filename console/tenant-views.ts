// What the console shows of a tenant, assembled from the registry, the supervisor (runtime state),
// the rate limiter's live counters, the tools the routers withhold for drift and the audit trail.
// Read-only: nothing here changes a tenant.
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../kernel/audit/audit-trail.ts';
import type { SealedSource, TrailCheck } from '../tenants/control-plane/audit-history.ts';
import { recentErrors } from './audit-views.ts';
import { RateLimiter } from '../kernel/ratelimit/rate-limiter.ts';
import type { TenantRecord } from '../kernel/tenant/tenant-spec.ts';
import type { ControlPlane } from '../tenants/control-plane/context.ts';
import { requireTenant } from '../tenants/control-plane/queries.ts';
import { quotaReport, type QuotaRow, type RateState } from '../tenants/control-plane/quota.ts';
import type { RuntimeStatus } from '../supervisor/client/runtime-jobs.ts';
import { tenantWithheld, type WithheldTool } from '../kernel/registry/withheld-tools.ts';
import { tenantPage, type TenantPageIds } from './tenant-paging.ts';
import { tenantIdPage, type PagePlace } from '../kernel/registry/tenant-id-page.ts';

const RECENT_ERRORS = 10;

export interface TenantSummary {
  id: string;
  displayName: string;
  status: TenantRecord['status'];
  plan: TenantRecord['plan'];
  isolation: TenantRecord['isolation'];
  generation: number;
  runtime: Pick<RuntimeStatus, 'state' | 'generation' | 'image'> | null;
  tools: TenantRecord['tools'];
  quotas: TenantRecord['quotas'];
  /** The tenant's minute and day budgets in use. */
  usage: QuotaRow[];
}

/** One page of the tenant list, and the cursors of the pages beside it (console/tenant-paging.ts). */
export interface TenantPage extends Omit<TenantPageIds, 'ids'> {
  tenants: TenantSummary[];
}

export interface TenantDetail extends TenantSummary {
  /** Every rate-limit layer in use: the tenant's, each agent's and user's, each tool's, each upstream's. */
  quotaLayers: QuotaRow[];
  /** The listing layers in use (tools/list's own budgets): the tenant's, each agent's. */
  listingLayers: QuotaRow[];
  roles: TenantRecord['roles'];
  /** The latest refusals and failed calls in its audit trail, newest first. */
  recentErrors: AuditEntry[];
  /**
   * Its tools the routers' drift checks withhold now (router/tools/drift-guard.ts), by tool: why,
   * how many routers' checks found it, and when one last did.
   */
  withheld: WithheldTool[];
  chain: TrailCheck;
}

export class TenantViews {
  readonly #cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>;
  readonly #rates: RateState;
  readonly #limiter: RateLimiter;
  readonly #sealed: SealedSource | undefined;
  readonly #pageSize: number;

  constructor(options: {
    cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>;
    redis: Redis;
    prefix: string;
    /** The sealed segments and their key: the whole trail, not only what Redis holds. */
    sealed?: SealedSource | undefined;
    /** Tenants on a page of the list, and the most a request may ask for. */
    pageSize: number;
  }) {
    this.#cp = options.cp;
    this.#pageSize = options.pageSize;
    this.#sealed = options.sealed;
    this.#rates = { redis: options.redis, prefix: options.prefix };
    this.#limiter = new RateLimiter(this.#rates);
  }

  /**
   * The page of the tenant list `query` names (`cursor`, `limit`): only its tenants' records are
   * read and only their runtimes inspected, whatever the number of tenants.
   */
  async page(query: URLSearchParams): Promise<TenantPage> {
    const read = (place: PagePlace, limit: number) => tenantIdPage(this.#rates, place, limit);
    const { ids, ...around } = await tenantPage(read, query, this.#pageSize);
    const records = await Promise.all(ids.map((id) => this.#cp.registry.get(id)));
    // A tenant offboarded since its id was read is left out (its page is one shorter).
    const present = records.filter((r): r is TenantRecord => r !== undefined);
    const tenants = await Promise.all(
      present.map(async (tenant) => this.#summary(tenant, await this.#cp.runtimes.inspect(tenant.id))),
    );
    return { ...around, tenants };
  }

  async detail(id: string): Promise<TenantDetail> {
    const tenant = await requireTenant(this.#cp, id);
    const runtime = await this.#cp.runtimes.inspect(tenant.id);
    // Its chain line, as the audit view's, holds the sealed segments to this tenant of the id.
    const errors = await recentErrors(
      { trail: this.#cp.audit, tenant: tenant.id, sealed: this.#sealed, createdAt: tenant.createdAt },
      RECENT_ERRORS,
    );
    const quota = await quotaReport(this.#cp, this.#rates, tenant.id);
    return {
      ...(await this.#summary(tenant, runtime)),
      roles: tenant.roles,
      quotaLayers: quota.layers,
      listingLayers: quota.listing,
      recentErrors: errors.entries,
      withheld: await tenantWithheld(this.#rates, tenant.id),
      chain: errors.chain,
    };
  }

  async #summary(tenant: TenantRecord, runtime: RuntimeStatus | null): Promise<TenantSummary> {
    return {
      id: tenant.id,
      displayName: tenant.displayName,
      status: tenant.status,
      plan: tenant.plan,
      isolation: tenant.isolation,
      generation: tenant.generation,
      runtime: runtime && { state: runtime.state, generation: runtime.generation, image: runtime.image },
      tools: tenant.tools,
      quotas: tenant.quotas,
      usage: await this.#usage(tenant),
    };
  }

  /** The tenant-wide layers (minute and day), looked at without charging. */
  async #usage(tenant: TenantRecord): Promise<QuotaRow[]> {
    const look = await this.#limiter.peek({
      principal: { tenant: tenant.id, agent: '', user: null },
      tenant,
    });
    return look.layers
      .filter((l) => l.layer === 'tenant_minute' || l.layer === 'tenant_day')
      .map((l) => ({ ...l, used: l.limit - l.remaining }));
  }
}
