// What the console shows of a tenant, assembled from the registry, the supervisor (runtime state),
// the rate limiter's live counters and the audit trail. Read-only: nothing here changes a tenant.
import type { Redis } from 'ioredis';
import type { AuditEntry, ChainCheck } from '../kernel/audit/audit-trail.ts';
import { rateLimitKey } from '../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../kernel/redis/scripts.ts';
import type { TenantRecord } from '../kernel/tenant/tenant-spec.ts';
import type { ControlPlane } from '../tenants/control-plane/context.ts';
import { listTenants, requireTenant } from '../tenants/control-plane/queries.ts';
import type { RuntimeStatus } from '../supervisor/client/runtime-jobs.ts';

const RECENT_ERRORS = 10;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export interface Usage {
  layer: 'tenant_minute' | 'tenant_day';
  limit: number;
  used: number;
  resetMs: number;
}

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
  usage: Usage[];
}

export interface TenantDetail extends TenantSummary {
  roles: TenantRecord['roles'];
  /** The latest refusals in its audit trail, newest first. */
  recentErrors: AuditEntry[];
  chain: ChainCheck;
}

export class TenantViews {
  readonly #cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>;
  readonly #scripts: RedisScripts;
  readonly #prefix: string;

  constructor(options: {
    cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'audit'>;
    redis: Redis;
    prefix: string;
  }) {
    this.#cp = options.cp;
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
  }

  async list(): Promise<TenantSummary[]> {
    const views = await listTenants(this.#cp);
    return Promise.all(views.map(({ tenant, runtime }) => this.#summary(tenant, runtime)));
  }

  async detail(id: string): Promise<TenantDetail> {
    const tenant = await requireTenant(this.#cp, id);
    const runtime = await this.#cp.runtimes.inspect(tenant.id);
    const entries = await this.#cp.audit.entries(tenant.id);
    return {
      ...(await this.#summary(tenant, runtime)),
      roles: tenant.roles,
      recentErrors: entries
        .filter((e) => e.decision === 'deny')
        .slice(-RECENT_ERRORS)
        .reverse(),
      chain: await this.#cp.audit.verify(tenant.id),
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

  /**
   * The tenant-wide rate-limit layers, looked at without charging (the limiter's script in peek
   * mode, with the per-agent, per-user and per-tool layers switched off by a zero limit).
   */
  async #usage(tenant: TenantRecord): Promise<Usage[]> {
    const key = (layer: string): string => rateLimitKey(this.#prefix, tenant.id, layer);
    const reply = await this.#scripts.rateLimit(
      {
        tenantMinute: key('tenant:minute'),
        tenantDay: key('tenant:day'),
        agent: key('agent:'),
        user: key('user:'),
        tool: key('tool:'),
      },
      {
        tenantMinuteLimit: tenant.quotas.callsPerMinute,
        tenantDayLimit: tenant.quotas.callsPerDay,
        agentLimit: 0,
        userLimit: 0,
        toolLimit: 0,
        tenantMinutePeriod: MINUTE_MS,
        tenantDayPeriod: DAY_MS,
        agentPeriod: MINUTE_MS,
        userPeriod: MINUTE_MS,
        toolPeriod: MINUTE_MS,
        peek: 1,
      },
    );
    const layer = (name: Usage['layer'], at: number): Usage => {
      const [limit = 0, remaining = 0, resetMs = 0] = reply.slice(at, at + 3);
      return { layer: name, limit, used: limit - remaining, resetMs };
    };
    return [layer('tenant_minute', 2), layer('tenant_day', 6)];
  }
}
