// One rate-limit decision for a request (kernel/ratelimit/rate-limiter.ts), as every step that
// takes one makes it: traced as the request's `rate_limit` step, and answered within the state
// deadline (state-guard.ts) or rejected, which each caller handles as Redis not answering. The take
// is asked for before this returns, so a caller can let it travel while it does other work.
import type { RateDecision, RateLimiter, RateScope } from '../../kernel/ratelimit/rate-limiter.ts';
import { traced, type RequestTrace } from '../request/request-trace.ts';
import { DEFAULT_STATE_POLICY, withinDeadline, type StatePolicy } from './state-guard.ts';

export function takeFromLimits(
  deps: { limiter: RateLimiter; state?: StatePolicy | undefined },
  scope: RateScope,
  request: { alone: boolean | undefined; trace: RequestTrace | undefined },
): Promise<RateDecision> {
  const take = () =>
    withinDeadline(deps.limiter.take(scope, { alone: request.alone }), deps.state ?? DEFAULT_STATE_POLICY);
  return traced(request.trace, 'rate_limit', take, { leaf: true });
}
