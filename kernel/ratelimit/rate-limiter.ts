// Rate limits (docs/rate-limits.md): one decision per tool call over every layer it touches — the
// tenant's calls per minute and per day, the calling agent's and user's share of the tenant's
// minute, and the tool's own limit — taken by one Lua script (kernel/redis/lua/rate-limit.lua) so
// that a call is charged to every layer or to none, exactly, across all router processes. It is in
// the kernel because more than the router decides or reads budgets (the CLI's quota view, egress). Layers
// are keyed on the verified principal (tenant, agent, user) and the tool's name, never on an
// address: agents share addresses, and an address says nothing about whose budget a call spends.
import type { Redis } from 'ioredis';
import { PLAN_QUOTAS, type Quotas } from '../tenant/tenant-spec.ts';
import type { ToolDefinition } from '../tools/tool-definition.ts';
import { toolError, type ToolErrorResult } from '../tools/tool-errors.ts';
import { rateLimitKey } from '../redis/keys.ts';
import { redisScripts, type RedisScripts } from '../redis/scripts.ts';

/** The layers, in the script's order. */
export const RATE_LAYERS = ['tenant_minute', 'tenant_day', 'agent', 'user', 'tool'] as const;
export type RateLayer = (typeof RATE_LAYERS)[number];

/** Where a successful tool result carries the caller's remaining budget. */
export const BUDGET_META_KEY = 'io.bulkhead/budget';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** One rate-limit layer's live state, as quota_status reports it and a result's `_meta` carries it. */
export interface RateLimitLayer {
  layer: string;
  /** Calls per period. */
  limit: number;
  period_ms: number;
  /** Calls still admitted now (after this call, when it was charged). */
  remaining: number;
  /** When the layer is full again (ISO time) and how far that is. */
  reset_at: string;
  reset_ms: number;
  /** Only on a refusing layer: when a call would be admitted. */
  retry_after_ms?: number;
  /** The tool a `tool` layer limits. */
  tool?: string | undefined;
}

/** Who spends a budget: the verified principal's identifiers (never an address). */
export interface RateCaller {
  tenant: string;
  agent: string;
  /** The human user, or null for an agent acting alone (the user layer does not apply). */
  user: string | null;
}

/** One layer's state as the caller sees it: quota_status's shape (RateLimitLayer), for our layers. */
export type LayerBudget = Omit<RateLimitLayer, 'layer' | 'tool'> & { layer: RateLayer };

export interface RateDecision {
  admitted: boolean;
  /** The layers that apply to this call. */
  layers: LayerBudget[];
  /** When refused: the layer to wait longest for. */
  refusedBy?: LayerBudget;
}

/** Who calls which tool, under which quotas: everything a decision depends on. */
export interface RateScope {
  principal: RateCaller;
  /** The tenant record's quotas; the smallest plan's when the tenant has no record. */
  quotas: Quotas | undefined;
  /** The tool called; absent for a look at the tenant, agent and user layers only. */
  tool?: Pick<ToolDefinition, 'name' | 'callsPerMinute'>;
}

interface LayerPlan {
  layer: RateLayer;
  key: string;
  /** 0: the layer does not apply. */
  limit: number;
  periodMs: number;
}

/** Each layer's key and limit for a scope, in the script's order. */
export function layerPlans(prefix: string, scope: RateScope): LayerPlan[] {
  const quotas: Quotas = scope.quotas ?? PLAN_QUOTAS.small;
  const { tenant, agent, user } = scope.principal;
  const share = Math.ceil(quotas.callsPerMinute / 2);
  const tool = scope.tool;
  const key = (layer: string): string => rateLimitKey(prefix, tenant, layer);
  return [
    { layer: 'tenant_minute', key: key('tenant:minute'), limit: quotas.callsPerMinute, periodMs: MINUTE_MS },
    { layer: 'tenant_day', key: key('tenant:day'), limit: quotas.callsPerDay, periodMs: DAY_MS },
    {
      layer: 'agent',
      key: key(`agent:${agent}`),
      limit: quotas.agentCallsPerMinute ?? share,
      periodMs: MINUTE_MS,
    },
    {
      layer: 'user',
      key: key(`user:${user ?? ''}`),
      // An agent acting alone has no user: the layer does not apply.
      limit: user === null ? 0 : (quotas.userCallsPerMinute ?? share),
      periodMs: MINUTE_MS,
    },
    {
      layer: 'tool',
      key: key(`tool:${tool?.name ?? ''}`),
      limit: tool ? (quotas.tools?.[tool.name] ?? tool.callsPerMinute ?? 0) : 0,
      periodMs: MINUTE_MS,
    },
  ];
}

export interface RateLimiterOptions {
  redis: Redis;
  /** Redis key prefix, per installation. */
  prefix: string;
}

export class RateLimiter {
  readonly #scripts: RedisScripts;
  readonly #prefix: string;

  constructor(options: RateLimiterOptions) {
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
  }

  /** Decides one call: admitted and charged to every layer, or refused and charged to none. */
  take(scope: RateScope): Promise<RateDecision> {
    return this.#run(scope, false);
  }

  /** Each layer's live state, charging nothing (quota_status). */
  peek(scope: RateScope): Promise<RateDecision> {
    return this.#run(scope, true);
  }

  async #run(scope: RateScope, peek: boolean): Promise<RateDecision> {
    const plans = layerPlans(this.#prefix, scope);
    const [p0, p1, p2, p3, p4] = plans as [LayerPlan, LayerPlan, LayerPlan, LayerPlan, LayerPlan];
    const reply = await this.#scripts.rateLimit(
      { tenantMinute: p0.key, tenantDay: p1.key, agent: p2.key, user: p3.key, tool: p4.key },
      {
        tenantMinuteLimit: p0.limit,
        tenantDayLimit: p1.limit,
        agentLimit: p2.limit,
        userLimit: p3.limit,
        toolLimit: p4.limit,
        tenantMinutePeriod: p0.periodMs,
        tenantDayPeriod: p1.periodMs,
        agentPeriod: p2.periodMs,
        userPeriod: p3.periodMs,
        toolPeriod: p4.periodMs,
        peek: peek ? 1 : 0,
      },
    );
    const now = Date.now();
    const admitted = reply[0] === 1;
    const deciding = reply[1] ?? 0;
    let refusedBy: LayerBudget | undefined;
    const layers: LayerBudget[] = [];
    plans.forEach((plan, index) => {
      const at = 2 + index * 4;
      const [limit = 0, remaining = 0, resetMs = 0, retryMs = 0] = reply.slice(at, at + 4);
      if (limit === 0) return;
      const budget: LayerBudget = {
        layer: plan.layer,
        limit,
        period_ms: plan.periodMs,
        remaining,
        reset_at: new Date(now + resetMs).toISOString(),
        reset_ms: resetMs,
        ...(retryMs > 0 ? { retry_after_ms: retryMs } : {}),
      };
      layers.push(budget);
      if (!admitted && index + 1 === deciding) refusedBy = budget;
    });
    return { admitted, layers, ...(refusedBy ? { refusedBy } : {}) };
  }
}

/** The caller's remaining budget, as a result's `_meta` carries it: a layer name to its state. */
export function budgetMeta(decision: RateDecision): Record<string, Omit<LayerBudget, 'layer'>> {
  return Object.fromEntries(decision.layers.map(({ layer, ...rest }) => [layer, rest]));
}

/** The structured `rate_limit` tool error of a refused decision: the layer, its limit and budget. */
export function rateLimitError(decision: RateDecision): ToolErrorResult {
  const layer = decision.refusedBy;
  if (!layer) throw new TypeError('an admitted call has no rate-limit error');
  const retryAfterMs = layer.retry_after_ms ?? 1;
  const per = layer.period_ms === DAY_MS ? 'day' : 'minute';
  return toolError(
    'rate_limit_exceeded',
    `the ${layer.layer} rate limit of ${layer.limit} calls per ${per} is spent; retry after ${retryAfterMs} ms`,
    {
      retry_after_ms: retryAfterMs,
      details: {
        layer: layer.layer,
        limit: layer.limit,
        period_ms: layer.period_ms,
        remaining: layer.remaining,
        reset_at: layer.reset_at,
        reset_ms: layer.reset_ms,
        layers: budgetMeta(decision),
      },
    },
  );
}
