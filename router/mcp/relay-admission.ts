// A request the router forwards to the tenant's runtime (resources, prompts, completion:
// relay-handlers.ts) costs the tenant's container what a tools/call does, so it is admitted and
// recorded like one: taken from the caller's rate limits (the tenant's minute and day, the agent's
// and the user's shares; no tool layer, since it names no tool), given a slot at the tenant's
// concurrency gate, and left in the tenant's audit trail with its outcome, under the method's name
// and with a keyed digest of its parameters (a URI can name a patient; the digest does not). Before,
// a loop of resources/read spent no budget, held no slot and left no record. The rate limits fail
// closed when Redis does not answer, as a tenant tool's do (router/pipeline/state-guard.ts). Each is
// counted and timed in the router's metrics by its method and outcome, never by the prompt or URI
// it named (bulkhead_relayed_requests_total, docs/observability.md).
import { ProtocolError } from '@modelcontextprotocol/server';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { ForwardedMethod } from '../dispatch/call-relay.ts';
import { rateLimitRefusal, type RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { errorCodeIn } from '../metrics/router-metrics.ts';
import type { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { stateUnavailable, type StatePolicy } from '../pipeline/state-guard.ts';
import type { RouterMetrics } from '../metrics/router-metrics.ts';
import type { RequestContext } from '../request/request-context.ts';
import { chargeRefusal } from '../pipeline/refusal-charge.ts';
import { takeFromLimits } from '../pipeline/rate-take.ts';
import { logRefusal, type RefusalLogDeps } from '../pipeline/refusal-log.ts';
import { callRecord, writeAudit, type CallAuditDeps } from './call-audit.ts';
import { protocolErrorFor } from './json-rpc.ts';
import { callerOf, refusalAudit } from './repeated-refusals.ts';

export interface RelayAdmissionDeps extends CallAuditDeps, RefusalLogDeps {
  limiter: RateLimiter;
  gate?: ConcurrencyGate | undefined;
  state?: StatePolicy | undefined;
  metrics?: RouterMetrics | undefined;
}

/**
 * A suspended tenant's relayed request is refused before anything, as its tools/call is
 * (router-server.ts): it has no runtime to reach, and its supervisor refuses to start one. Before,
 * such a request (a 2025 session outlives the suspension, a 2026-07-28 caller needs none) was taken
 * from the tenant's minute and day, held a slot and was sent to the supervisor, to be refused there.
 */
function refuseSuspended(context: RequestContext): void {
  const { tenant } = context;
  if (tenant?.status === 'suspended')
    throw protocolErrorFor(new BulkheadError('tenant_suspended', `tenant "${tenant.id}" is suspended`));
}

/** Refusals that say the caller may not reach what it named: recorded as denied, not as failed. */
const REACH_REFUSALS = new Set(['unknown_prompt', 'unknown_resource']);

async function admit(
  context: RequestContext,
  deps: RelayAdmissionDeps,
  method: string,
): Promise<(() => void) | undefined> {
  const { principal, tenant, log } = context;
  const labels = { tenant: principal.tenant, tool: method };
  let decision;
  try {
    const scope = { principal, tenant };
    decision = await takeFromLimits(deps, scope, { alone: context.alone(), trace: context.trace });
  } catch (error) {
    log.warn({ method, err: error }, 'rate limits unavailable');
    throw protocolErrorFor(stateUnavailable(error));
  }
  if (!decision.admitted) {
    const layer = decision.refusedBy?.layer ?? 'unknown';
    logRefusal(deps, context, decision, { fields: { method, layer }, message: 'rate limited' });
    deps.metrics?.rateLimited(labels, layer);
    throw protocolErrorFor(rateLimitRefusal(decision));
  }
  try {
    return await deps.gate?.acquire(principal.tenant);
  } catch (error) {
    if (!isBulkheadError(error, 'concurrency_limit')) throw error;
    deps.metrics?.rateLimited(labels, 'concurrency');
    throw protocolErrorFor(error);
  }
}

function codeOf(error: unknown): string {
  return error instanceof ProtocolError ? errorCodeIn(error.data) : 'internal';
}

/** What the audit digests of a forwarded request: its parameters, without the protocol's `_meta`. */
function digested(params: Record<string, unknown>): Record<string, unknown> {
  const { _meta: _ignored, ...rest } = params;
  return rest;
}

/**
 * What to answer for a refusal of something the caller cannot reach (a relayed request's `reach`, or
 * its suspended tenant):
 * the refusal, charged to the caller's own shares (router/pipeline/refusal-charge.ts), or the spent
 * share once they are.
 */
async function answerUnreachable(
  context: RequestContext,
  deps: RelayAdmissionDeps,
  method: string,
  refusal: unknown,
): Promise<unknown> {
  const spent = await chargeRefusal(context, deps, method);
  if (!spent) return refusal;
  deps.metrics?.rateLimited({ tenant: context.principal.tenant, tool: method }, spent.layer);
  return protocolErrorFor(spent.error);
}

/**
 * Runs one relayed request: `work` gets `forward`, which admits the request (rate limits, then a
 * slot) and runs `send` in the slot. Whatever happens, one audit record says how it ended; a request
 * refused before it was forwarded because the caller cannot reach what it named (`reach`) is
 * recorded as denied, as is one of a suspended tenant.
 */
export async function relayRequest<T>(
  context: RequestContext,
  deps: RelayAdmissionDeps,
  request: { method: ForwardedMethod; params: Record<string, unknown>; reach?: (() => void) | undefined },
  work: (forward: <R>(send: () => Promise<R>) => Promise<R>) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  /** Why the caller cannot reach what it named, when `reach` refused it (or its tenant is suspended). */
  let unreachable: string | undefined;
  const forward = async <R>(send: () => Promise<R>): Promise<R> => {
    const release = await admit(context, deps, request.method);
    try {
      return await send();
    } finally {
      release?.();
    }
  };
  let code: string | undefined;
  /** The structured error answered, when refused. */
  let answered: unknown;
  try {
    try {
      refuseSuspended(context);
      request.reach?.();
    } catch (refusal) {
      unreachable = codeOf(refusal);
      throw await answerUnreachable(context, deps, request.method, refusal);
    }
    return await work(forward);
  } catch (error) {
    code = codeOf(error);
    if (error instanceof ProtocolError) answered = error.data;
    throw error;
  } finally {
    const latencyMs = performance.now() - started;
    // Every answer counted, a repeated refusal too: the metric is the request rate, the trail a record.
    deps.metrics?.relayAnswered(
      { tenant: context.principal.tenant, method: request.method },
      code,
      latencyMs / 1000,
    );
    // A rate-limit refusal asked again within its wait leaves no record, a later one counts it
    // (repeated-refusals.ts).
    const audit = refusalAudit(deps.refusals, callerOf(context), answered, request.method);
    if (audit.recorded) {
      // Refused here (`reach`) or by the runtime: what the caller cannot reach is a denial.
      const reason = unreachable ?? (code !== undefined && REACH_REFUSALS.has(code) ? code : undefined);
      const record = callRecord(
        context,
        { name: request.method, args: digested(request.params), code, latencyMs, repeats: audit.repeats },
        deps,
        reason ? { decision: 'deny', reason } : { decision: 'permit', reason: 'pack_reachable' },
      );
      // Started before the SDK sends the answer, which leaves once it is written (request/answer-hold.ts).
      context.answer.add(writeAudit(context, deps, record, code !== 'state_unavailable'));
    }
  }
}
