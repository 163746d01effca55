// Which layers one rate-limit decision covers (docs/rate-limits.md), with each layer's key and limit
// in the slots of kernel/redis/lua/rate-limit.lua: five per-tenant slots, then MAX_TOOL_UPSTREAMS
// upstreams. A tool call fills them with the tenant's minute and day, the agent's and the user's
// shares, the tool's limit and its upstreams; a refused request only with the caller's shares; a
// tools/list with the listing layers, which are budgets of their own (keys of their own) in the
// same slots, so that listing never spends a call's budget and costs the same one script call.
import { PLAN_QUOTAS, type Quotas, type TenantRecord } from '../tenant/tenant-spec.ts';
import { MAX_TOOL_UPSTREAMS, type ToolDefinition } from '../tools/tool-definition.ts';
import { rateLimitKeys, upstreamRateKey } from '../redis/keys.ts';

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** The layers of a call, in the script's order (`upstream` has MAX_TOOL_UPSTREAMS slots). */
const CALL_LAYERS = ['tenant_minute', 'tenant_day', 'agent', 'user', 'tool', 'upstream'] as const;
/** Every layer: a call's, then a tools/list's (which fill the slots of the tenant's minute and the agent's). */
export const RATE_LAYERS = [...CALL_LAYERS, 'tenant_list', 'agent_list'] as const;
export type RateLayer = (typeof RATE_LAYERS)[number];

/**
 * The least a listing layer admits per minute, whatever the call quotas: a tenant whose calls are
 * metered tightly (an expensive tool, one call a minute) must still let its clients start, each of
 * which lists once, and list again when told the list changed.
 */
export const MIN_TENANT_LISTS_PER_MINUTE = 60;
export const MIN_AGENT_LISTS_PER_MINUTE = 30;

/** Who spends a budget: the verified principal's identifiers (never an address). */
export interface RateCaller {
  tenant: string;
  agent: string;
  /** The human user, or null for an agent acting alone (the user layer does not apply). */
  user: string | null;
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
  /**
   * A tools/list (router/mcp/list-charge.ts): only the listing layers apply, the tenant's and the
   * agent's, never a call layer, so that a client's listing does not spend what its calls may.
   */
  listing?: boolean;
}

export interface LayerPlan {
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
  const key = rateLimitKeys(prefix, place);
  if (scope.listing === true) return listingPlans(prefix, key, quotas, agent);
  const refused = scope.refused === true;
  const tool = refused ? undefined : scope.tool;
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

/**
 * A tools/list's layers: the tenant's listings per minute, as many as its calls per minute, and the
 * agent's, as many as its share of calls (each at least its floor above), in the slots of the
 * tenant's minute and the agent's share, under keys of their own. One agent looping on tools/list
 * then spends its own share and leaves the rest of the tenant's to its other agents, as with calls.
 */
function listingPlans(
  prefix: string,
  key: (layer: string) => string,
  quotas: Quotas,
  agent: string,
): LayerPlan[] {
  const share = quotas.agentCallsPerMinute ?? Math.ceil(quotas.callsPerMinute / 2);
  const unused = NO_LAYER('tool', upstreamRateKey(prefix, ''));
  return [
    {
      layer: 'tenant_list',
      key: key('list:tenant'),
      limit: Math.max(quotas.callsPerMinute, MIN_TENANT_LISTS_PER_MINUTE),
      periodMs: MINUTE_MS,
    },
    unused,
    {
      layer: 'agent_list',
      key: key(`list:agent:${agent}`),
      limit: Math.max(share, MIN_AGENT_LISTS_PER_MINUTE),
      periodMs: MINUTE_MS,
    },
    unused,
    unused,
    ...upstreamPlans(prefix, []),
  ];
}

/** The upstream slots: one per name (the script reads each one's budget), the rest unused. */
export function upstreamPlans(prefix: string, names: readonly string[]): LayerPlan[] {
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

/** Every slot unused but the upstreams named: the egress gateway's charge (RateLimiter.takeUpstreams). */
export function upstreamOnlyPlans(prefix: string, names: readonly string[]): LayerPlan[] {
  const none = (layer: RateLayer): LayerPlan => NO_LAYER(layer, upstreamRateKey(prefix, ''));
  const tenantLayers = (['tenant_minute', 'tenant_day', 'agent', 'user', 'tool'] as const).map(none);
  return [...tenantLayers, ...upstreamPlans(prefix, names)];
}
