// One context per HTTP call to /mcp, built once after the body is parsed and passed down to the
// step-up check and the MCP server: who is calling (the verified principal), the tenant record the
// token verifier read for the issuer binding (the only read of it for this request), the parsed
// body, the tool surface served to that tenant, the tools the principal may see (computed on first
// use) and, for a tools/call, the tool asked for and the authorization decision, made and logged
// here once.
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { logToolDecision } from '../authz/decision-log.ts';
import { decideTool, type ToolDecision } from '../authz/tool-policy.ts';
import type { Principal } from '../identity/principal.ts';
import type { ServedTool, ToolSurface } from '../tools/tool-surface.ts';
import type { RequestTrace } from './request-trace.ts';
import { AnswerHold } from './answer-hold.ts';

/** The tools/call of this request: the tool asked for (if this tenant is served one) and the decision. */
export interface ToolCallRequest {
  readonly name: string;
  readonly tool: ServedTool | undefined;
  readonly decision: ToolDecision;
}

export interface RequestContext {
  readonly principal: Principal;
  readonly tenant: TenantRecord | undefined;
  /** The parsed JSON body; undefined for a request without one (GET, DELETE, a non-JSON body). */
  readonly body: unknown;
  /** The definitions this tenant is served (pins, shared tools, minus withheld ones). */
  readonly served: readonly ServedTool[];
  /** The served tools the principal may call, in a deterministic order (decided on first use). */
  visible(): readonly ServedTool[];
  readonly call: ToolCallRequest | undefined;
  /** The request's logger, bound to tenant, user and agent. */
  readonly log: Logger;
  /** The request's span and its steps, when the router traces (request-trace.ts). */
  readonly trace?: RequestTrace | undefined;
  /** The id of the request's trace, when traced: the audit record carries it. */
  readonly traceId?: string | undefined;
  /** What the answer waits for before it leaves: the request's audit records (answer-hold.ts). */
  readonly answer: AnswerHold;
  /**
   * Whether this request's client is the only one the router hears from right now: its Redis steps
   * then need not wait for others to share a batch (kernel/redis/flush-timing.ts).
   */
  readonly alone: () => boolean;
}

export interface RequestContextInput {
  principal: Principal;
  tenant: TenantRecord | undefined;
  body: unknown;
  surface: ToolSurface;
  logger: Logger;
  trace?: RequestTrace | undefined;
  /** Says whether this request is alone (router/http/connection-activity.ts); none: never. */
  alone?: (() => boolean) | undefined;
}

/**
 * The tool name of a `tools/call` request, or undefined for any other body. A `tools/call` without
 * an `id` is a notification, which the SDK accepts (202) and runs nothing for: no call of it is
 * decided, admitted or charged (taken from the budgets, it spent the tenant's with no audit record).
 */
export function toolCallName(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const message = body as { method?: unknown; id?: unknown; params?: { name?: unknown } };
  if (message.method !== 'tools/call' || message.id === undefined) return undefined;
  const name = message.params?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * One log line per tools/call. A suspended tenant's call is refused as such (the MCP server answers
 * `tenant_suspended`), unless the token lacks a scope: that is answered at the HTTP layer (403
 * insufficient_scope) first, and logged as the decision it is.
 */
function logCall(input: RequestContextInput, log: Logger, call: ToolCallRequest): void {
  const { decision } = call;
  const stepUp = !decision.permit && decision.answer === 'step_up';
  if (input.tenant?.status === 'suspended' && !stepUp) {
    log.info({ tool: call.name, decision: 'deny', reason: 'tenant_suspended' }, 'authorization');
    return;
  }
  logToolDecision(input.logger, input.principal, call.name, decision);
}

export function buildRequestContext(input: RequestContextInput): RequestContext {
  const { principal, tenant, body, surface } = input;
  const log = input.logger.child({ tenant: principal.tenant, user: principal.user, agent: principal.agent });
  const served = surface.forTenant(tenant);
  let visible: readonly ServedTool[] | undefined;
  const name = toolCallName(body);
  const tool = name === undefined ? undefined : served.find((t) => t.definition.name === name);
  const { trace } = input;
  // The span's tool name is a served one (or `unknown`), never what the request typed.
  const traceId = trace?.begin({ body, principal, tool: name && (tool?.definition.name ?? 'unknown') });
  let call: ToolCallRequest | undefined;
  if (name !== undefined) {
    const decide = () => decideTool({ caller: principal, tenant, tool: tool?.definition });
    call = { name, tool, decision: trace ? trace.stepSync('authorization', decide) : decide() };
    logCall(input, log, call);
  }
  return {
    principal,
    tenant,
    body,
    served,
    visible() {
      // The called tool's decision is the one already made: one decision per tool per request.
      visible ??= served.filter(({ definition }) =>
        definition.name === call?.name
          ? call.decision.permit
          : decideTool({ caller: principal, tenant, tool: definition }).permit,
      );
      return visible;
    },
    call,
    log,
    trace,
    traceId,
    answer: new AnswerHold(),
    alone: input.alone ?? (() => false),
  };
}
