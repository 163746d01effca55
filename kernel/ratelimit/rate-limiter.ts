// Rate limits (docs/rate-limits.md): one decision per tool call over every layer it touches — the
// tenant's calls per minute and per day, the calling agent's and user's share of the tenant's
// minute, the tool's own limit, and the budget of each downstream API (upstream) the tool uses,
// shared by every tenant — taken by one Lua script (kernel/redis/lua/rate-limit.lua) so that a call
// is charged to every layer or to none, exactly, across all router processes. Layers are keyed on
// the verified principal (tenant, agent, user), the tool's name and the upstream's name, never on
// an address: agents share addresses, and an address says nothing about whose budget a call
// spends. A tenant's keys name its record's createdAt as well: a tenant onboarded again under an id
// is another tenant, with budgets of its own. It is in the kernel because more than the router decides or reads budgets (the CLI's
// quota view, the egress gateway's upstream charge).
import type { Redis } from 'ioredis';
import { PLAN_QUOTAS, type Quotas, type TenantRecord } from '../tenant/tenant-spec.ts';
import { MAX_TOOL_UPSTREAMS, type ToolDefinition } from '../tools/tool-definition.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { toolErrorFor, type ToolErrorResult } from '../tools/tool-errors.ts';
import { rateLimitKeys, upstreamBudgetsKey, upstreamRateKey } from '../redis/keys.ts';
import { scheduleFlush, type FlushRequest } from '../redis/flush-timing.ts';
import {
  redisScripts,
  type RedisScripts,
  type ScriptItem,
  type RateLimitArgs,
  type RateLimitKeys,
} from '../redis/scripts.ts';

/** The layers, in the script's order (`upstream` has MAX_TOOL_UPSTREAMS slots). */
export const RATE_LAYERS = ['tenant_minute', 'tenant_day', 'agent', 'user', 'tool', 'upstream'] as const;
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
  /** The downstream API an `upstream` layer limits. */
  upstream?: string | undefined;
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

/** What a decision takes from the tenant's record. */
export type RateTenant = Pick<TenantRecord, 'createdAt' | 'quotas'>;

/** Who calls which tool, under which quotas: everything a decision depends on. */
export interface RateScope {
  principal: RateCaller;
  /**
   * The tenant's record: its quotas, and its `createdAt`, which names the tenant's keys, so that a
   * tenant offboarded and onboarded again under the id starts with its budgets full. None: the
   * smallest plan's quotas, under keys of no record (no call reaches a budget without one: the token
   * verifier refuses a tenant that has none).
   */
  tenant: RateTenant | undefined;
  /** The tool called; absent for a look at the tenant, agent and user layers only. */
  tool?: Pick<ToolDefinition, 'name' | 'callsPerMinute' | 'upstreams'>;
  /**
   * A request refused before it ran (router/pipeline/refusal-charge.ts): only the caller's own
   * shares apply (agent, user), not the tenant's minute and day its other agents share, nor a
   * tool's or an upstream's budget, which pay for work that did not happen.
   */
  refused?: boolean;
}

interface LayerPlan {
  layer: RateLayer;
  key: string;
  /** 0: the layer does not apply (an upstream's limit is read by the script). */
  limit: number;
  periodMs: number;
  upstream?: string;
}

const NO_LAYER = (layer: RateLayer, key: string): LayerPlan => ({
  layer,
  key,
  limit: 0,
  periodMs: MINUTE_MS,
});

/** Each layer's key and limit for a scope, in the script's order. */
export function layerPlans(prefix: string, scope: RateScope): LayerPlan[] {
  const quotas: Quotas = scope.tenant?.quotas ?? PLAN_QUOTAS.small;
  const { tenant, agent, user } = scope.principal;
  const place = { tenant, tenantCreatedAt: scope.tenant?.createdAt ?? null };
  const share = Math.ceil(quotas.callsPerMinute / 2);
  const refused = scope.refused === true;
  const tool = refused ? undefined : scope.tool;
  const key = rateLimitKeys(prefix, place);
  return [
    {
      layer: 'tenant_minute',
      key: key('tenant:minute'),
      limit: refused ? 0 : quotas.callsPerMinute,
      periodMs: MINUTE_MS,
    },
    {
      layer: 'tenant_day',
      key: key('tenant:day'),
      limit: refused ? 0 : quotas.callsPerDay,
      periodMs: DAY_MS,
    },
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
    ...upstreamPlans(prefix, tool?.upstreams ?? []),
  ];
}

/** The upstream slots: one per name (the script reads each one's budget), the rest unused. */
function upstreamPlans(prefix: string, names: readonly string[]): LayerPlan[] {
  if (names.length > MAX_TOOL_UPSTREAMS)
    throw new TypeError(`a call uses at most ${MAX_TOOL_UPSTREAMS} upstreams, not ${names.length}`);
  return Array.from({ length: MAX_TOOL_UPSTREAMS }, (_, i) => {
    const name = names[i];
    if (name === undefined) return NO_LAYER('upstream', upstreamRateKey(prefix, ''));
    return {
      layer: 'upstream',
      key: upstreamRateKey(prefix, name),
      limit: 0,
      periodMs: MINUTE_MS,
      upstream: name,
    };
  });
}

export interface RateLimiterOptions {
  redis: Redis;
  /** Redis key prefix, per installation. */
  prefix: string;
}

export class RateLimiter {
  readonly #scripts: RedisScripts;
  readonly #prefix: string;
  /** Decisions waiting for the next script call. */
  #waiting: Waiting[] = [];

  constructor(options: RateLimiterOptions) {
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
  }

  /**
   * Decides one call: admitted and charged to every layer, or refused and charged to none. `alone`:
   * no other request is likely to share its script call, so its decision need not wait for the
   * turn's end (kernel/redis/flush-timing.ts).
   */
  take(scope: RateScope, request?: FlushRequest): Promise<RateDecision> {
    return this.#run(layerPlans(this.#prefix, scope), false, request);
  }

  /** Each layer's live state, charging nothing (quota_status). */
  peek(scope: RateScope): Promise<RateDecision> {
    return this.#run(layerPlans(this.#prefix, scope), true);
  }

  /**
   * Charges one request to upstreams' shared budgets alone (the egress gateway, for a request a
   * pack makes): admitted and charged to all, or refused and charged to none. `peek` only looks.
   */
  takeUpstreams(names: readonly string[], options: { peek?: boolean } = {}): Promise<RateDecision> {
    const none = (layer: RateLayer): LayerPlan => NO_LAYER(layer, upstreamRateKey(this.#prefix, ''));
    const tenantLayers = (['tenant_minute', 'tenant_day', 'agent', 'user', 'tool'] as const).map(none);
    return this.#run([...tenantLayers, ...upstreamPlans(this.#prefix, names)], options.peek === true);
  }

  /**
   * Group commit: the decisions asked for in one turn of the event loop go to Redis in one script
   * call once the turn's I/O callbacks have run, or at once for a caller that is alone
   * (kernel/redis/flush-timing.ts); each is still decided alone, in order
   * (kernel/redis/lua/rate-limit.lua). Each caller's promise settles with its own decision, or with
   * its batch's error: a failed script call fails every call in it (each caller then handles it as
   * Redis not answering).
   */
  #run(plans: LayerPlan[], peek: boolean, request?: FlushRequest): Promise<RateDecision> {
    return new Promise<RateDecision>((resolve, reject) => {
      this.#waiting.push({ plans, peek, resolve, reject });
      if (this.#waiting.length === 1) scheduleFlush(() => this.#flush(), request);
    });
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let at = 0; at < waiting.length; at += MAX_BATCH) void this.#send(waiting.slice(at, at + MAX_BATCH));
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    try {
      const reply = await this.#scripts.rateLimit(
        batch.map(({ plans, peek }) => scriptItem(this.#prefix, plans, peek)),
      );
      if (reply.length !== batch.length * REPLY_PER_CALL)
        throw new Error(`rate-limit script answered ${reply.length} integers for ${batch.length} calls`);
      batch.forEach((waiting, i) =>
        waiting.resolve(decisionOf(waiting.plans, reply.slice(i * REPLY_PER_CALL, (i + 1) * REPLY_PER_CALL))),
      );
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}

/** At most this many decisions in one script call. */
const MAX_BATCH = 64;
/** Integers per decision in the script's reply: admitted, the deciding layer, four per layer. */
const REPLY_PER_CALL = 2 + 4 * (5 + MAX_TOOL_UPSTREAMS);

interface Waiting {
  plans: LayerPlan[];
  peek: boolean;
  resolve: (decision: RateDecision) => void;
  reject: (error: unknown) => void;
}

/** One decision's keys and arguments, as the script reads them. */
function scriptItem(
  prefix: string,
  plans: LayerPlan[],
  peek: boolean,
): ScriptItem<RateLimitKeys, RateLimitArgs> {
  const [p0, p1, p2, p3, p4, u1, u2, u3] = plans as [
    LayerPlan,
    LayerPlan,
    LayerPlan,
    LayerPlan,
    LayerPlan,
    LayerPlan,
    LayerPlan,
    LayerPlan,
  ];
  return {
    keys: {
      tenantMinute: p0.key,
      tenantDay: p1.key,
      agent: p2.key,
      user: p3.key,
      tool: p4.key,
      upstream1: u1.key,
      upstream2: u2.key,
      upstream3: u3.key,
      upstreamBudgets: upstreamBudgetsKey(prefix),
    },
    args: {
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
      upstream1Name: u1.upstream ?? '',
      upstream2Name: u2.upstream ?? '',
      upstream3Name: u3.upstream ?? '',
    },
  };
}

function decisionOf(plans: LayerPlan[], reply: number[]): RateDecision {
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
      ...(plan.upstream !== undefined ? { upstream: plan.upstream } : {}),
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

/** A layer's name in `_meta` and in a refusal's `layers`: `upstream:<name>` for an upstream. */
function metaName(layer: LayerBudget): string {
  return layer.upstream === undefined ? layer.layer : `upstream:${layer.upstream}`;
}

/** The caller's remaining budget, as a result's `_meta` carries it: a layer name to its state. */
export function budgetMeta(decision: RateDecision): Record<string, Omit<LayerBudget, 'layer'>> {
  return Object.fromEntries(
    decision.layers.map((budget) => {
      const { layer: _layer, ...rest } = budget;
      return [metaName(budget), rest];
    }),
  );
}

/** The refusal of a refused decision: the layer to wait for, its limit and budget, and every layer's. */
export function rateLimitRefusal(decision: RateDecision): BulkheadError<'rate_limit_exceeded'> {
  const layer = decision.refusedBy;
  if (!layer) throw new TypeError('an admitted call has no rate-limit error');
  const retryAfterMs = layer.retry_after_ms ?? 1;
  const per = layer.period_ms === DAY_MS ? 'day' : 'minute';
  const which = layer.upstream === undefined ? layer.layer : `upstream ${layer.upstream}`;
  return new BulkheadError(
    'rate_limit_exceeded',
    `the ${which} rate limit of ${layer.limit} calls per ${per} is spent; retry after ${retryAfterMs} ms`,
    {
      retryAfterMs,
      details: {
        layer: layer.layer,
        ...(layer.upstream !== undefined ? { upstream: layer.upstream } : {}),
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

/** The structured `rate_limit` tool error of a refused decision (rateLimitRefusal as a tool result). */
export function rateLimitError(decision: RateDecision): ToolErrorResult {
  return toolErrorFor(rateLimitRefusal(decision));
}
