// The tools/call steps after the tool was found and authorized: validate (before anything reaches a
// container), take the call from the rate limits, then serve a shared tool in-process, or run a
// tenant tool through idempotency and dispatch. Every failure comes back as a structured tool error
// (kernel/tools/tool-errors.ts).
import type { Logger } from 'pino';
import { RuntimeRequestError } from '../../supervisor/client/runtime-client.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { toolErrorFor } from '../../kernel/tools/tool-errors.ts';
import type { Principal } from '../identity/principal.ts';
import { RuntimeUnavailableError } from '../dispatch/call-failure.ts';
import { isInputRequired, type CallRelay, type ToolAnswer } from '../dispatch/call-relay.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import type { SharedToolHandler } from '../tools/shared-registry.ts';
import type { ServedTool } from '../tools/tool-surface.ts';
import type { CallSlot, ClaimAhead, IdempotencyStore } from './idempotency.ts';
import { holdAhead, idempotencyScope, type HeldAhead } from './held-ahead.ts';
import {
  BUDGET_META_KEY,
  budgetMeta,
  rateLimitError,
  type RateDecision,
  type RateLimiter,
  type RateLimitLayer,
} from '../../kernel/ratelimit/rate-limiter.ts';
import { validateCall } from './validate.ts';
import { asPinnedVersion } from './pinned-version.ts';
import { outputCheck } from './output-schemas.ts';
import { DEPRECATION_META_KEY } from '../dispatch/runtime-result.ts';
import { chargeRefusal } from './refusal-charge.ts';
import { logRefusal, type RefusalLogDeps } from './refusal-log.ts';
import { takeFromLimits } from './rate-take.ts';
import type { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { HeldSlot, takeSlot } from './call-slot.ts';
import { DEFAULT_STATE_POLICY, failsOpen, stateUnavailable, type StatePolicy } from './state-guard.ts';
import type { RouterMetrics } from '../metrics/router-metrics.ts';
import { traced, type RequestTrace } from '../request/request-trace.ts';
import { traceparentOf } from '../../kernel/telemetry/trace-context.ts';

export interface CallPipelineDeps extends RefusalLogDeps {
  dispatcher: TenantDispatcher;
  sharedHandlers: ReadonlyMap<string, SharedToolHandler>;
  idempotency: IdempotencyStore;
  limiter: RateLimiter;
  /** Validation failures and idempotency replays are counted here (router/metrics/). */
  metrics?: RouterMetrics | undefined;
  /** What a call does when Redis does not answer (state-guard.ts); fail closed by default. */
  state?: StatePolicy | undefined;
  /** Calls in flight per tenant container (kernel/process/concurrency-gate.ts); none: unbounded. */
  gate?: ConcurrencyGate | undefined;
}

export interface ToolCall {
  principal: Principal;
  tenant: TenantRecord | undefined;
  tool: ServedTool;
  /** Everything this principal may call (quota_status reports it), decided on first use. */
  visible(): readonly ServedTool[];
  rawArgs: unknown;
  log: Logger;
  /** Cancellation, notifications and multi-round-trip input between the client and the runtime. */
  relay?: CallRelay | undefined;
  /** The request's span: each step below gets a child span (none when not traced). */
  trace?: RequestTrace | undefined;
  /** Whether the call's client is the only one the router hears from (request/request-context.ts). */
  alone?: (() => boolean) | undefined;
}

/** The BulkheadError a failed runtime call stands for, or undefined for an unexpected failure. */
export function runtimeFailure(error: unknown): BulkheadError | undefined {
  if (error instanceof RuntimeUnavailableError) return error;
  // Redis did not answer before anything was sent: the runtime state view's touch
  // (dispatch/tenant-routes.ts), or the job queue taking the ensure job of a cold start or wake
  // (supervisor/client/job-request.ts). Nothing ran.
  if (isBulkheadError(error, 'state_unavailable')) return stateUnavailable(error);
  if (!(error instanceof RuntimeRequestError)) return undefined;
  if (error.code === 'runtime_backoff') {
    return new BulkheadError('runtime_backoff', 'the tenant runtime is crash-looping; backing off', {
      retryAfterMs: error.retryAfterMs ?? 5_000,
    });
  }
  if (error.code === 'tenant_suspended' || error.code === 'tenant_not_found') {
    return new BulkheadError(error.code, 'the tenant is not active');
  }
  return new BulkheadError('runtime_unavailable', 'the tenant runtime could not be started', {
    retryAfterMs: 2_000,
  });
}

async function dispatch(
  call: ToolCall,
  args: Record<string, unknown>,
  deps: CallPipelineDeps,
): Promise<ToolAnswer> {
  const { principal, tool, log } = call;
  const context = {
    tenant: principal.tenant,
    user: principal.user,
    agent: principal.agent,
    scopes: principal.scopes,
  };
  // The result must be what the tool's listed output schema says (output-schemas.ts).
  const check = outputCheck(tool.definition);
  try {
    if (!call.trace)
      return await deps.dispatcher.callTool(context, tool.definition.name, args, call.relay, check);
    // The runtime continues the trace from the dispatch span (the call assertion carries it), and
    // so does a supervisor job this call causes (the active context).
    return await call.trace.step('dispatch', () => {
      const trace = traceparentOf();
      const withTrace = trace ? { ...context, trace } : context;
      return deps.dispatcher.callTool(withTrace, tool.definition.name, args, call.relay, check);
    });
  } catch (error) {
    log.warn({ tool: tool.definition.name, err: error }, 'tenant call failed');
    // Unknown whether the call reached the runtime (a crash mid-call): a retry with the same
    // idempotency key is safe, because the runtime answers a committed key from its own table.
    return toolErrorFor(
      runtimeFailure(error) ??
        new BulkheadError(
          'runtime_call_failed',
          'the tenant runtime failed during the call; retry with the same idempotency key',
          { retryAfterMs: 1_000 },
        ),
    );
  }
}

async function execute(
  call: ToolCall,
  args: Record<string, unknown>,
  deps: CallPipelineDeps,
  held: HeldAhead | undefined,
): Promise<ToolAnswer> {
  const def = call.tool.definition;
  if (def.kind === 'shared') {
    const handler = deps.sharedHandlers.get(def.name);
    if (!handler) throw new Error(`shared tool ${def.name} has no handler`);
    return handler(call.principal, args, {
      tenant: call.tenant,
      // Decided only for a handler that asks (quota_status): not per call of every shared tool. A
      // function, not a getter: V8 keeps a getter's closure until a full collection, and with it
      // every object of this call (docs/performance-router.md, "Per-call objects kept until a full
      // collection").
      tools: () => call.visible().map((t) => t.definition),
      idempotencyWindowMs: deps.idempotency.windowMs,
      rateLimits: async () => {
        const scope = { principal: call.principal, tenant: call.tenant };
        const base = await deps.limiter.peek(scope);
        const limited = call.visible().filter((t) => layerApplies(call, t.definition));
        const tools = await Promise.all(
          limited.map((t) => deps.limiter.peek({ ...scope, tool: t.definition })),
        );
        const used = [...new Set(call.visible().flatMap((t) => t.definition.upstreams ?? []))];
        const upstreams = await Promise.all(
          used.map((name) => deps.limiter.takeUpstreams([name], { peek: true })),
        );
        return [
          ...base.layers,
          ...tools.flatMap((d, i) => toolLayer(d, limited[i]?.definition.name)),
          ...upstreams.flatMap((d) => d.layers),
        ];
      },
    });
  }
  // A slot before the idempotency claim (call-slot.ts). A call whose admission took both ahead
  // (held-ahead.ts) has them.
  const tenant = call.principal.tenant;
  const onRefused = () => deps.metrics?.rateLimited(labelsOf(call), 'concurrency');
  const taken = held ? { release: held.slot } : await takeSlot(deps.gate, tenant, onRefused);
  if ('refused' in taken) return taken.refused;
  const slot = new HeldSlot({ gate: deps.gate, tenant, release: taken.release, onRefused });
  try {
    return await executeTenantTool(call, args, deps, { ahead: held?.claim, slot });
  } finally {
    slot.end();
  }
}

async function executeTenantTool(
  call: ToolCall,
  args: Record<string, unknown>,
  deps: CallPipelineDeps,
  { ahead, slot }: { ahead: ClaimAhead | undefined; slot: CallSlot },
): Promise<ToolAnswer> {
  const def = call.tool.definition;
  if (!def.writes) return dispatch(call, args, deps);
  // A tenant tool is permitted only with its tenant's record (router/authz/tool-policy.ts).
  if (!call.tenant) throw new Error(`a write of ${def.name} reached idempotency without its tenant record`);
  const scope = ahead?.scope ?? idempotencyScope(call.tenant, def.name, args);
  let executed = false;
  let result: ToolAnswer;
  try {
    result = await traced(call.trace, 'idempotency', () =>
      deps.idempotency.run(
        scope,
        () => {
          executed = true;
          return dispatch(call, args, deps);
        },
        { ahead, slot, signal: call.relay?.signal },
      ),
    );
  } catch (error) {
    // dispatch() answers every failure of its own: what is thrown is a Redis step of the key (the
    // claim, or its release and failure count after a transient answer). Without the claim the
    // write was never dispatched (fail closed); with it, a retry with the same key is answered by
    // the runtime's own key table and does not write twice.
    call.log.warn({ tool: def.name, executed, err: error }, 'idempotency state unavailable');
    return toolErrorFor(stateUnavailable());
  }
  // Not executed and not refused: the stored answer of an earlier call with this key.
  if (!executed && !isInputRequired(result) && !result.isError)
    deps.metrics?.idempotencyReplayed(labelsOf(call));
  return result;
}

function labelsOf(call: ToolCall): { tenant: string; tool: string } {
  return { tenant: call.principal.tenant, tool: call.tool.definition.name };
}

function layerApplies(call: ToolCall, def: ToolDefinition): boolean {
  return (call.tenant?.quotas.tools?.[def.name] ?? def.callsPerMinute) !== undefined;
}

function toolLayer(decision: RateDecision, name: string | undefined): RateLimitLayer[] {
  return decision.layers.filter((l) => l.layer === 'tool').map((l) => ({ ...l, tool: name }));
}

/** What admission decided: the call's refusal, or its checked arguments and its rate decision. */
export type Admission =
  | { admitted: false; answer: ToolAnswer; refusal: 'invalid' | 'unavailable' }
  | {
      admitted: false;
      answer: ToolAnswer;
      refusal: 'rate_limited';
      layer: string;
      /** Refused by validation first, then by the caller's spent share (refusal-charge.ts). */
      invalid?: boolean;
    }
  | {
      admitted: true;
      args: Record<string, unknown>;
      decision: RateDecision | undefined;
      /** The gate's slot and the key's claim, taken as the take was sent (held-ahead.ts). */
      held?: HeldAhead | undefined;
    };

/** What admission reads of a call: not the relay, which only its execution uses. */
export type AdmissionInput = Pick<
  ToolCall,
  'principal' | 'tenant' | 'tool' | 'rawArgs' | 'log' | 'trace' | 'alone'
>;

/**
 * Validates the call and takes it from the rate limits. Validation runs and the take is asked for
 * before this returns (an async function runs up to its first await), so a caller can start
 * admission early and let the take travel to Redis while the request's other work goes on
 * (router/mcp/router-server.ts). Never rejects: Redis not answering is a refusal (or, for a shared
 * read the operator lets go on without a budget, an admission without a decision). `holdAhead`:
 * a tenant write whose client is alone takes its slot and sends its key's claim with the take
 * (held-ahead.ts); only for an admission that is run or given back (`EarlyAdmission`).
 */
export async function admitCall(
  call: AdmissionInput,
  deps: CallPipelineDeps,
  options: { holdAhead: boolean } = { holdAhead: true },
): Promise<Admission> {
  const validate = () => validateCall(call.tool.definition, call.rawArgs, call.log);
  const checked = call.trace ? call.trace.stepSync('validation', validate) : validate();
  if (!checked.ok) {
    // Charged to the caller's own shares (refusal-charge.ts): a model retrying a malformed call.
    const spent = await chargeRefusal(call, deps, call.tool.definition.name);
    if (!spent) return { admitted: false, answer: checked.error, refusal: 'invalid' };
    const answer = toolErrorFor(spent.error);
    return { admitted: false, answer, refusal: 'rate_limited', layer: spent.layer, invalid: true };
  }
  // The rate limits sit here: after authorization, because the layers are keyed on the verified
  // principal and a refused or unknown tool must not spend the tenant's budget (only its caller's
  // share, above); after validation, because a malformed call is refused in-process at no cost to
  // anything downstream; before idempotency and dispatch, because a replay is still a call (a retry storm on one key is what
  // the limits are for) and a refused call must keep no idempotency claim (one sent ahead with the
  // take goes back: held-ahead.ts).
  const state = deps.state ?? DEFAULT_STATE_POLICY;
  const alone = call.alone?.();
  const scope = { principal: call.principal, tenant: call.tenant, tool: call.tool.definition };
  // Asked for now (the take is requested before takeFromLimits returns), the claim right after it.
  const taking = takeFromLimits(deps, scope, { alone, trace: call.trace });
  const held = options.holdAhead
    ? holdAhead({
        tenant: call.tenant,
        tool: call.tool.definition,
        args: checked.args,
        alone,
        gate: deps.gate,
        idempotency: deps.idempotency,
      })
    : undefined;
  let decision: RateDecision | undefined;
  try {
    decision = await taking;
  } catch (error) {
    call.log.warn({ tool: call.tool.definition.name, err: error }, 'rate limits unavailable');
    if (!failsOpen(call.tool.definition, state)) {
      held?.giveBack();
      return { admitted: false, answer: toolErrorFor(stateUnavailable()), refusal: 'unavailable' };
    }
  }
  if (decision && !decision.admitted) {
    held?.giveBack();
    const fields = { tool: call.tool.definition.name, layer: decision.refusedBy?.layer };
    logRefusal(deps, call, decision, { fields, message: 'rate limited' });
    const layer = decision.refusedBy?.layer ?? 'unknown';
    return { admitted: false, answer: rateLimitError(decision), refusal: 'rate_limited', layer };
  }
  return { admitted: true, args: checked.args, decision, held };
}

/**
 * An admission started before the SDK's handler (router/mcp/router-server.ts, admitEarly). The
 * handler takes it to run the call; once the SDK has answered, `settle` gives back what the
 * admission holds ahead (held-ahead.ts) if the handler has not taken it: the SDK refused the request
 * before its handler ran. Whichever comes first decides: a handler that takes the admission after
 * that gets it without what went back, and its run takes its slot and claims its key itself.
 */
export class EarlyAdmission {
  readonly #admission: Promise<Admission>;
  #outcome: 'taken' | 'given back' | undefined;

  constructor(admission: Promise<Admission>) {
    this.#admission = admission;
    // Taken by the handler or settled; an unexpected failure must not surface as an unhandled rejection.
    admission.catch(() => undefined);
  }

  /** The admission, now the call's: its run hands on or gives back what it holds. */
  take(): Promise<Admission> {
    if (this.#outcome === 'given back')
      return this.#admission.then((a) => (a.admitted ? { ...a, held: undefined } : a));
    this.#outcome = 'taken';
    return this.#admission;
  }

  /** The SDK answered: what the admission holds goes back unless the handler took it. */
  settle(): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = 'given back';
    this.#admission
      .then((admission) => admission.admitted && admission.held?.giveBack())
      .catch(() => undefined);
  }
}

/**
 * Runs one tools/call: admission (`admitCall`, unless the caller started it already), then the
 * shared tool in-process or the tenant tool through idempotency and dispatch.
 */
export async function runToolCall(
  call: ToolCall,
  deps: CallPipelineDeps,
  admission: Promise<Admission> = admitCall(call, deps),
): Promise<ToolAnswer> {
  const admitted = await admission;
  if (!admitted.admitted) {
    // Counted here, where the call is answered, not where admission started.
    if (admitted.refusal === 'invalid') deps.metrics?.validationFailed(labelsOf(call));
    if (admitted.refusal === 'rate_limited') {
      if (admitted.invalid) deps.metrics?.validationFailed(labelsOf(call));
      deps.metrics?.rateLimited(labelsOf(call), admitted.layer);
    }
    return admitted.answer;
  }
  const { args, decision, held } = admitted;
  const result = asPinnedVersion(call.tool.definition, await execute(call, args, deps, held));
  const deprecated = call.tool.definition.deprecated;
  return {
    ...result,
    _meta: {
      ...result._meta,
      ...(decision ? { [BUDGET_META_KEY]: budgetMeta(decision) } : {}),
      ...(deprecated ? { [DEPRECATION_META_KEY]: deprecated } : {}),
    },
  };
}
