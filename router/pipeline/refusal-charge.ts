// What a request refused before it runs costs its caller. A tools/call of a tool the caller may not
// use (or that does not exist), arguments the tool's schema refuses, a call to a suspended tenant, a
// relayed request for a pack item the caller cannot reach: none reaches a container, but an agent
// that loops on one (a model retrying the same malformed call is the common case) costs the router
// its work and the tenant's trail a record each time, and before this spent no budget at all. Such a
// refusal is charged to the caller's own shares only, the agent's and the user's (loop protection,
// docs/rate-limits.md): not to the tenant's minute and day, which its other agents share, nor to a
// tool's or an upstream's budget, which pay for work that did not happen. Once the share is spent
// the answer is `rate_limit_exceeded` with `retry_after_ms`, which clients honour, instead of the
// refusal. Redis not answering changes nothing: the refusal is answered as it is, since nothing runs.
import type { Logger } from 'pino';
import { recordedToolName } from '../../kernel/audit/audit-record.ts';
import type { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { rateLimitRefusal, type RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { Principal } from '../identity/principal.ts';
import type { RequestTrace } from '../request/request-trace.ts';
import { takeFromLimits } from './rate-take.ts';
import { logRefusal, type RefusalLogDeps } from './refusal-log.ts';
import type { StatePolicy } from './state-guard.ts';

export interface RefusalCaller {
  principal: Principal;
  tenant: TenantRecord | undefined;
  log: Logger;
  trace?: RequestTrace | undefined;
  alone?: (() => boolean) | undefined;
}

export interface RefusalChargeDeps extends RefusalLogDeps {
  limiter: RateLimiter;
  state?: StatePolicy | undefined;
}

/** A refusal whose caller's share is spent: the rate-limit error to answer instead, and its layer. */
export interface SpentShare {
  error: BulkheadError<'rate_limit_exceeded'>;
  layer: string;
}

/**
 * Charges one refused request to its caller's shares: undefined when charged (answer the refusal),
 * or the spent share to answer instead.
 */
export async function chargeRefusal(
  caller: RefusalCaller,
  deps: RefusalChargeDeps,
  what: string,
): Promise<SpentShare | undefined> {
  // What the request named, cut as the audit cuts it: a caller's tool name can be a megabyte.
  const named = recordedToolName(what);
  const scope = { principal: caller.principal, tenant: caller.tenant, refused: true };
  try {
    const decision = await takeFromLimits(deps, scope, { alone: caller.alone?.(), trace: caller.trace });
    if (decision.admitted) return undefined;
    const layer = decision.refusedBy?.layer ?? 'unknown';
    logRefusal(deps, caller, decision, {
      fields: { what: named, layer },
      message: 'refused request rate limited',
    });
    return { error: rateLimitRefusal(decision), layer };
  } catch (error) {
    caller.log.warn({ what: named, err: error }, 'rate limits unavailable for a refused request');
    return undefined;
  }
}
