// The log line of a rate-limit refusal. Each refusal wrote one at info (a tools/call, a relayed
// request, a tools/list, a refused request past its share): an agent looping past its budget filled
// the operator's log pipeline at its send rate, however small its budget. Now a caller's (tenant and
// agent) first refusal is logged, then at most one a wait (the `retry_after_ms` the last logged one
// was given: once-per-wait.ts, and which the line carries as `retry_after_ms`), and a line after
// some were left out says how many, in `unlogged_refusals`. The refusals left out after the last
// line are in no line: the metric (`bulkhead_rate_limit_refusals_total`) still counts every
// refusal, as before.
import type { Logger } from 'pino';
import type { RateDecision } from '../../kernel/ratelimit/rate-limiter.ts';
import type { Principal } from '../identity/principal.ts';
import type { OncePerWait } from './once-per-wait.ts';

/** Where a refusal's site finds the log's memory of waits; none (a unit test's deps) logs every refusal. */
export interface RefusalLogDeps {
  refusalLog?: OncePerWait | undefined;
}

/** Logs a refused decision of the request's caller at info, as the bound above lets it. */
export function logRefusal(
  deps: RefusalLogDeps,
  request: { log: Logger; principal: Pick<Principal, 'tenant' | 'agent'> },
  decision: RateDecision,
  line: { fields: Record<string, unknown>; message: string },
): void {
  // The wait the refusal answers (rateLimitRefusal in kernel/ratelimit/rate-limiter.ts).
  const wait = decision.refusedBy?.retry_after_ms ?? 1;
  const unlogged = deps.refusalLog ? deps.refusalLog.pass(request.principal, wait) : 0;
  if (unlogged === undefined) return;
  // The wait goes in the line: the next line of this caller comes no sooner.
  const fields = { ...line.fields, retry_after_ms: wait };
  request.log.info(unlogged > 0 ? { ...fields, unlogged_refusals: unlogged } : fields, line.message);
}
