// `bulkhead quota <tenant>`: each rate-limit layer's live usage for one tenant, looked at without
// charging anything (kernel/ratelimit/rate-limiter.ts): the tenant's minute and day, every agent
// and user that spent some of their share not yet replenished (their keys exist only until then),
// each tool with a limit (the tenant's override or the manifest's) or recently charged, and every
// upstream the tenant's tools use or that has a budget. Apart from those call layers, the listing
// layers (tools/list's budgets of their own: the tenant's, and each agent's with some of its share
// spent). And the operator's upstream budgets.
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { rateLimitKey, rateLimitPattern, type RateTenantPlace } from '../../kernel/redis/keys.ts';
import { RateLimiter, type RateLimitLayer } from '../../kernel/ratelimit/rate-limiter.ts';
import type { RateCaller } from '../../kernel/ratelimit/layer-plans.ts';
import {
  listUpstreamBudgets,
  setUpstreamBudget,
  type UpstreamBudgetsOptions,
} from '../../kernel/ratelimit/upstream-budgets.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane } from './context.ts';

/** Where the budgets live: the installation's Redis and key prefix. */
export type RateState = UpstreamBudgetsOptions;

export interface QuotaRow extends RateLimitLayer {
  /** The agent or user a per-caller layer is for. */
  subject?: string;
  used: number;
}

export interface QuotaReport {
  tenant: string;
  quotas: TenantRecord['quotas'];
  /** The call layers: what tools/call and relayed requests are taken from. */
  layers: QuotaRow[];
  /** The listing layers (`tenant_list`, `agent_list`): what tools/list is taken from, and only it. */
  listing: QuotaRow[];
}

/**
 * The ids after `<prefix>:rate:<tenant>:<created>:<kind>:` of the keys that exist now: this
 * tenant's, not an earlier one's of the same id (kernel/redis/keys.ts).
 */
async function seen(rates: RateState, tenant: RateTenantPlace, kind: string): Promise<string[]> {
  const head = `${rateLimitKey(rates.prefix, tenant, kind)}:`;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await rates.redis.scan(
      cursor,
      'MATCH',
      rateLimitPattern(rates.prefix, tenant, kind),
      'COUNT',
      500,
    );
    cursor = next;
    for (const key of keys) found.add(key.slice(head.length));
  } while (cursor !== '0');
  return [...found].sort();
}

function rows(layers: RateLimitLayer[], extra: Partial<QuotaRow> = {}): QuotaRow[] {
  return layers.map((layer) => ({ ...layer, ...extra, used: layer.limit - layer.remaining }));
}

export async function quotaReport(
  cp: Pick<ControlPlane, 'registry'>,
  rates: RateState,
  id: string,
): Promise<QuotaReport> {
  const tenant = await cp.registry.require(id);
  const limiter = new RateLimiter(rates);
  const quotas = tenant.quotas;
  const caller: RateCaller = { tenant: id, agent: '', user: null };
  const place = { tenant: id, tenantCreatedAt: tenant.createdAt };
  const base = await limiter.peek({ principal: caller, tenant });
  const layers = rows(base.layers.filter((l) => l.layer === 'tenant_minute' || l.layer === 'tenant_day'));
  // Each agent and user with a key: its own layer, as a call of that caller would see it.
  for (const kind of ['agent', 'user'] as const) {
    for (const subject of await seen(rates, place, kind)) {
      const principal = kind === 'agent' ? { ...caller, agent: subject } : { ...caller, user: subject };
      const look = await limiter.peek({ principal, tenant });
      layers.push(
        ...rows(
          look.layers.filter((l) => l.layer === kind),
          { subject },
        ),
      );
    }
  }
  const definitions = new Map(MANIFEST.map((def) => [def.name, def]));
  const limited = new Set([
    ...Object.keys(quotas.tools ?? {}),
    ...tenant.tools
      .map((pin) => pin.name)
      .filter((name) => definitions.get(name)?.callsPerMinute !== undefined),
    ...(await seen(rates, place, 'tool')),
  ]);
  for (const name of [...limited].sort()) {
    const tool = definitions.get(name) ?? { name };
    const look = await limiter.peek({ principal: caller, tenant, tool: { ...tool, upstreams: [] } });
    layers.push(
      ...rows(
        look.layers.filter((l) => l.layer === 'tool'),
        { tool: name },
      ),
    );
  }
  const upstreams = new Set([
    ...tenant.tools.flatMap((pin) => definitions.get(pin.name)?.upstreams ?? []),
    ...Object.keys(await listUpstreamBudgets(rates)),
  ]);
  for (const name of [...upstreams].sort()) {
    layers.push(...rows((await limiter.takeUpstreams([name], { peek: true })).layers));
  }
  return { tenant: id, quotas, layers, listing: await listingRows(limiter, rates, { caller, tenant }) };
}

/** The tenant's listing layer, and each agent's with a key, as a tools/list of that caller would see them. */
async function listingRows(
  limiter: RateLimiter,
  rates: RateState,
  scope: { caller: RateCaller; tenant: TenantRecord },
): Promise<QuotaRow[]> {
  const { caller, tenant } = scope;
  const look = async (principal: RateCaller, layer: string) =>
    (await limiter.peek({ principal, tenant, listing: true })).layers.filter((l) => l.layer === layer);
  const listing = rows(await look(caller, 'tenant_list'));
  const place = { tenant: tenant.id, tenantCreatedAt: tenant.createdAt };
  for (const subject of await seen(rates, place, 'list:agent'))
    listing.push(...rows(await look({ ...caller, agent: subject }, 'agent_list'), { subject }));
  return listing;
}

/** The upstream budgets, by name (calls per minute). */
export function upstreamBudgets(rates: RateState): Promise<Record<string, number>> {
  return listUpstreamBudgets(rates);
}

/** Sets (or, with null, removes) an upstream's budget: it applies to the next call. */
export function setUpstream(
  rates: RateState,
  upstream: string,
  callsPerMinute: number | null,
): Promise<void> {
  return setUpstreamBudget({ ...rates, upstream, callsPerMinute });
}
