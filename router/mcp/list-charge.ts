// What a tools/list costs its caller. The router answers it itself, so it reaches no container, but
// each one builds the caller's tool surface and appends a record to the tenant's audit trail (a
// Redis stream, then sealed segments on disk): before this, an agent looping on tools/list grew that
// trail, and the Redis every tenant shares, as fast as it could send. Each listing is now taken from
// budgets of its own, the tenant's listings and the agent's (kernel/ratelimit/layer-plans.ts), in
// the same one script call as any rate-limit decision, and never from what the caller's calls may
// spend: a stock client lists at its start and on list_changed, and that must not cost it a write.
// Past the budget the listing is refused with the structured `rate_limit_exceeded` and
// `retry_after_ms`, as a relayed request is (a JSON-RPC error), before the surface is built, and
// leaves no audit record: it showed the caller nothing. When Redis does not answer, the list is
// answered as before: it runs nothing on a container, and nothing can grow in a Redis that does not
// answer (the audit append fails too, and is logged in full: call-audit.ts).
import { rateLimitRefusal, type RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import type { RouterMetrics } from '../metrics/router-metrics.ts';
import { takeFromLimits } from '../pipeline/rate-take.ts';
import { logRefusal, type RefusalLogDeps } from '../pipeline/refusal-log.ts';
import type { StatePolicy } from '../pipeline/state-guard.ts';
import type { RequestContext } from '../request/request-context.ts';
import { protocolErrorFor } from './json-rpc.ts';

export interface ListChargeDeps extends RefusalLogDeps {
  limiter: RateLimiter;
  state?: StatePolicy | undefined;
  metrics?: RouterMetrics | undefined;
}

const METHOD = 'tools/list';

/**
 * Charges one tools/list to its caller's listing budgets: the budgets left after it (for the
 * result's `_meta`), undefined when Redis did not answer, or throws the refusal past them.
 */
export async function chargeListing(
  context: RequestContext,
  deps: ListChargeDeps,
): Promise<Awaited<ReturnType<RateLimiter['take']>> | undefined> {
  const { principal, tenant, log } = context;
  let decision;
  try {
    const scope = { principal, tenant, listing: true };
    decision = await takeFromLimits(deps, scope, { alone: context.alone(), trace: context.trace });
  } catch (error) {
    log.warn({ method: METHOD, err: error }, 'rate limits unavailable for a tools/list: listed unmetered');
    return undefined;
  }
  if (decision.admitted) return decision;
  const layer = decision.refusedBy?.layer ?? 'unknown';
  logRefusal(deps, context, decision, { fields: { method: METHOD, layer }, message: 'rate limited' });
  deps.metrics?.rateLimited({ tenant: principal.tenant, tool: METHOD }, layer);
  throw protocolErrorFor(rateLimitRefusal(decision));
}
