// The audit records one request leaves in the tenant's trail (kernel/audit), written once the
// outcome is known: a tools/call record (or a relayed request's: relay-admission.ts) with the
// decision, the outcome (status, error code and class, latency), the keyed digest of the arguments,
// the units a pack reported and the trace id; a tools/list record with the tools listed to the
// caller and those withheld from it. One append per request (none for a listing refused past its
// budgets, list-charge.ts, nor for a rate-limit refusal asked again within its wait, which a later
// record counts: repeated-refusals.ts), started once the answer is computed; the answer leaves once it is written
// (router/request/answer-hold.ts). Whether the call may run without Redis is decided before (the
// rate limits and the idempotency claim fail closed, router/pipeline/state-guard.ts); a record that
// cannot be written is logged whole at error level instead, so it is not lost.
import type { AuditEvent, AuditSink } from '../../kernel/audit/audit-trail.ts';
import { recordedToolName, reportedUnits, type ArgsDigester } from '../../kernel/audit/audit-record.ts';
import { isErrorCode, errorRow } from '../../kernel/errors/error-codes.ts';
import { DEFAULT_STATE_POLICY, withinDeadline, type StatePolicy } from '../pipeline/state-guard.ts';
import type { RequestContext } from '../request/request-context.ts';
import type { RouterMetrics } from '../metrics/router-metrics.ts';
import type { RepeatedRefusals } from './repeated-refusals.ts';

export interface CallAuditDeps {
  /** Tamper-evident trail: one record per tools/call and per tools/list (kernel/audit). */
  audit?: AuditSink | undefined;
  /** Keys the argument digests per tenant; without it (tests only) records carry no digest. */
  digester?: ArgsDigester | undefined;
  state?: StatePolicy | undefined;
  /** Counts the records logged in full because Redis did not confirm them. */
  metrics?: RouterMetrics | undefined;
  /**
   * Leaves out rate-limit refusals repeated within their wait, accounted for in a later record
   * (repeated-refusals.ts); none: all recorded.
   */
  refusals?: RepeatedRefusals | undefined;
}

/** What the request's authorization said about the called tool. */
function decisionOf(context: RequestContext): Pick<AuditEvent, 'decision' | 'reason'> {
  if (context.tenant?.status === 'suspended') return { decision: 'deny', reason: 'tenant_suspended' };
  const decision = context.call?.decision;
  if (!decision) return { decision: 'deny', reason: 'no_decision' };
  return { decision: decision.permit ? 'permit' : 'deny', reason: decision.reason };
}

function who(context: RequestContext): Pick<AuditEvent, 'tenant' | 'user' | 'agent'> {
  const { principal } = context;
  return { tenant: principal.tenant, user: principal.user, agent: principal.agent };
}

export interface CallOutcome {
  name: string;
  args: unknown;
  /** The error code answered (a tool error's or a JSON-RPC refusal's), undefined on success. */
  code: string | undefined;
  latencyMs: number;
  /** The result's `_meta`, where a pack reports its units. */
  meta?: Record<string, unknown> | undefined;
  /** A rate-limit refusal's: the caller's refusals left out before it (repeated-refusals.ts). */
  repeats?: AuditEvent['repeats'];
}

/**
 * A call's record: a tools/call's, whose decision is its authorization's, or (`decision` given) a
 * request relayed to the runtime (relay-admission.ts), under the method's name.
 */
export function callRecord(
  context: RequestContext,
  outcome: CallOutcome,
  deps: CallAuditDeps,
  decision: Pick<AuditEvent, 'decision' | 'reason'> = decisionOf(context),
): AuditEvent {
  const units = reportedUnits({ _meta: outcome.meta });
  const { code } = outcome;
  return {
    ...who(context),
    tool: recordedToolName(outcome.name),
    ...decision,
    kind: 'call',
    ...(deps.digester ? { args_digest: deps.digester.digest(context.principal.tenant, outcome.args) } : {}),
    status: code === undefined ? 'ok' : 'error',
    ...(code === undefined
      ? {}
      : { error_code: code, error_class: isErrorCode(code) ? errorRow(code).class : 'internal' }),
    latency_ms: Math.round(outcome.latencyMs * 1000) / 1000,
    ...(units === undefined ? {} : { units }),
    ...(context.traceId === undefined ? {} : { trace_id: context.traceId }),
    ...(outcome.repeats === undefined ? {} : { repeats: outcome.repeats }),
  };
}

export function listRecord(context: RequestContext, listed: readonly string[]): AuditEvent {
  const shown = new Set(listed);
  return {
    ...who(context),
    tool: 'tools/list',
    decision: 'permit',
    reason: 'listed',
    kind: 'list',
    listed: [...listed],
    withheld: context.served.map((t) => t.definition.name).filter((name) => !shown.has(name)),
    ...(context.traceId === undefined ? {} : { trace_id: context.traceId }),
  };
}

/**
 * Appends `event`, waiting at most the state deadline; `wait: false` (the call was answered
 * state_unavailable: Redis is not answering) does not hold the answer back for it. Never rejects:
 * a record not confirmed written is logged whole instead.
 */
export async function writeAudit(
  context: RequestContext,
  deps: CallAuditDeps,
  event: AuditEvent,
  wait = true,
): Promise<void> {
  if (!deps.audit) return;
  if (!context.tenant) {
    // The registry has no such tenant (offboarded, or never onboarded): it has no trail. Appended,
    // a token naming it would start one in Redis with no retention, which the next tenant given the
    // id would continue (docs/audit.md, "After offboarding"). The refusal is logged instead.
    context.log.info({ audit: event }, 'no audit trail: the tenant has no record');
    return;
  }
  const lost = (error: unknown): void => {
    deps.metrics?.auditUnconfirmed();
    context.log.error(
      { err: error, audit: event },
      'audit record not confirmed written: logged here in full',
    );
  };
  let appending: Promise<void>;
  try {
    appending = deps.audit.append(event, { alone: context.alone() });
  } catch (error) {
    // A sink that throws instead of rejecting: still logged, and the answer not held for ever.
    lost(error);
    return;
  }
  if (!wait) {
    appending.catch(lost);
    return;
  }
  try {
    await withinDeadline(appending, deps.state ?? DEFAULT_STATE_POLICY);
  } catch (error) {
    lost(error);
  }
}
