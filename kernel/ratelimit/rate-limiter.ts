// Rate limits (docs/rate-limits.md): one decision per tool call over every layer it touches — the
// tenant's calls per minute and per day, the calling agent's and user's share of the tenant's
// minute, the tool's own limit, and the budget of each downstream API (upstream) the tool uses,
// shared by every tenant — taken by one Lua script (kernel/redis/lua/rate-limit.lua) so that a call
// is charged to every layer or to none, exactly, across all router processes. Layers are keyed on
// the verified principal (tenant, agent, user), the tool's name and the upstream's name, never on
// an address: agents share addresses, and an address says nothing about whose budget a call
// spends. A tenant's keys name its record's createdAt as well: a tenant onboarded again under an id
// is another tenant, with budgets of its own. A tools/list is decided by the same script over
// listing layers of its own (layer-plans.ts). It is in the kernel because more than the router
// decides or reads budgets (the CLI's quota view, the egress gateway's upstream charge).
import type { Redis } from 'ioredis';
import { MAX_TOOL_UPSTREAMS } from '../tools/tool-definition.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { toolErrorFor, type ToolErrorResult } from '../tools/tool-errors.ts';
import { upstreamBudgetsKey } from '../redis/keys.ts';
import { scheduleFlush, type FlushRequest } from '../redis/flush-timing.ts';
import {
  redisScripts,
  type RedisScripts,
  type ScriptItem,
  type RateLimitArgs,
  type RateLimitKeys,
} from '../redis/scripts.ts';
import {
  DAY_MS,
  layerPlans,
  upstreamOnlyPlans,
  type LayerPlan,
  type RateLayer,
  type RateScope,
} from './layer-plans.ts';

export {
  layerPlans,
  RATE_LAYERS,
  type RateCaller,
  type RateLayer,
  type RateScope,
  type RateTenant,
} from './layer-plans.ts';

/** Where a successful tool result carries the caller's remaining budget. */
export const BUDGET_META_KEY = 'io.bulkhead/budget';

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

/** One layer's state as the caller sees it: quota_status's shape (RateLimitLayer), for our layers. */
export type LayerBudget = Omit<RateLimitLayer, 'layer' | 'tool'> & { layer: RateLayer };

export interface RateDecision {
  admitted: boolean;
  /** The layers that apply to this call. */
  layers: LayerBudget[];
  /** When refused: the layer to wait longest for. */
  refusedBy?: LayerBudget;
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
    return this.#run(upstreamOnlyPlans(this.#prefix, names), options.peek === true);
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
  const what = layer.layer === 'tenant_list' || layer.layer === 'agent_list' ? 'listings' : 'calls';
  const which = layer.upstream === undefined ? layer.layer : `upstream ${layer.upstream}`;
  return new BulkheadError(
    'rate_limit_exceeded',
    `the ${which} rate limit of ${layer.limit} ${what} per ${per} is spent; retry after ${retryAfterMs} ms`,
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
