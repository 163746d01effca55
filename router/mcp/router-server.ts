// The MCP server the router builds for one request, from the request's context (router/request/):
// tools/list answers the tools the principal may see, taken from its listing budgets
// (list-charge.ts); tools/call runs the pipeline (router/pipeline/): validation, then in-process
// shared tools or idempotent dispatch to the tenant's own runtime. Each leaves one record in the
// tenant's audit trail once answered (call-audit.ts), but a listing refused past its budgets.
import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  Server,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { toolError, toolErrorFor } from '../../kernel/tools/tool-errors.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { admitCall, EarlyAdmission, runToolCall, type CallPipelineDeps } from '../pipeline/call-pipeline.ts';
import { chargeRefusal, type SpentShare } from '../pipeline/refusal-charge.ts';
import { callRecord, listRecord, writeAudit, type CallAuditDeps } from './call-audit.ts';
import { sessionOf } from './client-requests.ts';
import { chargeListing } from './list-charge.ts';
import { callerOf, refusalAudit } from './repeated-refusals.ts';
import { BUDGET_META_KEY, budgetMeta } from '../../kernel/ratelimit/rate-limiter.ts';
import type { RequestContext } from '../request/request-context.ts';
import { FORWARDED_METHODS, type CallRelay } from '../dispatch/call-relay.ts';
import { answerInputRounds, askedBy, openedState, type AskedClient } from './input-rounds.ts';
import { protocolErrorFor } from './json-rpc.ts';
import { logLevelPasses, registerRelayHandlers, type RelayDeps } from './relay-handlers.ts';
import { errorClassOf, errorCodeIn, resultCode, UNKNOWN_TOOL } from '../metrics/router-metrics.ts';
import { traced } from '../request/request-trace.ts';

export interface RouterServerDeps extends CallPipelineDeps, CallAuditDeps, RelayDeps {
  dispatcher: TenantDispatcher;
}

/**
 * What the endpoint knows of the request beyond its context: the era, a 2025 session's log level,
 * and the tools/call's admission when the endpoint started it (admitEarly).
 */
export interface ServerRequestInfo extends AskedClient {
  logLevel?: string | undefined;
  admission?: EarlyAdmission | undefined;
}

/**
 * Starts the admission (validation, then the rate-limit take: router/pipeline/call-pipeline.ts) of
 * the tools/call a request carries, as the endpoint hands the request to the SDK: the take travels
 * to Redis while the SDK builds this request's server and dispatches it to the tools/call handler,
 * which waits for it. Only for a call the handler will run (answerCall answers a suspended tenant,
 * a step-up and a tool the caller may not use without running anything), and not for the retry of
 * a multi-round call, whose sealed requestState is checked before it runs. A request the SDK then
 * refuses before its handler runs (a header or `_meta` a stock client does not send wrong) has been
 * charged: docs/rate-limits.md. `holdAhead` (held-ahead.ts): only where the endpoint settles the
 * admission once the SDK has answered, and the SDK answers only after the handler took it or never
 * will (the 2026-07-28 era; a 2025 session's SSE answer is handed over before its handler runs).
 */
export function admitEarly(
  context: RequestContext,
  deps: RouterServerDeps,
  options: { holdAhead: boolean },
): EarlyAdmission | undefined {
  const { call, tenant, principal, log, trace } = context;
  if (!call?.tool || !call.decision.permit || tenant?.status === 'suspended') return undefined;
  const params = (context.body as { params?: { requestState?: unknown; arguments?: unknown } }).params;
  if (params?.requestState !== undefined) return undefined;
  const rawArgs = params?.arguments ?? {};
  const started = admitCall(
    { principal, tenant, tool: call.tool, rawArgs, log, trace, alone: context.alone },
    deps,
    options,
  );
  return new EarlyAdmission(started);
}

/** Every method this module and relay-handlers.ts answer with a handler of the request's own. */
const ROUTER_METHODS = ['tools/list', 'logging/setLevel', ...FORWARDED_METHODS] as const;

/**
 * The server's `onclose`: it forgets this request's handlers once the exchange is closed. Why: the
 * SDK's `connect` assigns closures that hold the server to the transport, and V8 allocates a closure
 * assigned to a property straight into its old generation. Such a closure lives until a full
 * collection, and so does the server: without this, everything its handlers hold (the request's
 * context, principal, logger and tool surface) would survive each young-generation collection and be
 * copied out of it, for every request (docs/performance-router.md, "Per-call objects kept until a full
 * collection"). Returned from a function, not written as a literal in an assignment, so that this
 * closure is an ordinary young one.
 */
function forgettingHandlers(server: Server): () => void {
  // The server is new here: no onclose to chain. The SDK's per-request handler chains its own to this.
  return () => {
    for (const method of ROUTER_METHODS) server.removeRequestHandler(method);
  };
}

/**
 * The server of one request. Closing its exchange makes the SDK build its "Connection closed" error
 * (`Protocol._onclose`) whether or not anything waits on it, and a stack trace with it: 6 µs in a
 * loop here, 15 µs of every request's CPU in the router's profile. Built here without the trace,
 * which would show only the SDK's own close: what it aborts (a handler still running when its
 * client went away) gets the same error, with its code and message. Errors the abort's listeners
 * make at once (a forwarded call's request cut) have no stack trace either; their messages say what
 * was cut.
 */
class RequestServer extends Server {
  protected override _onclose(): void {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super._onclose();
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** A tools/call's metric labels: the tool by a name the caller may use (from the served surface), never the request's. */
function callLabels(context: RequestContext): { tenant: string; tool: string } {
  return { tenant: context.principal.tenant, tool: context.call?.tool?.definition.name ?? UNKNOWN_TOOL };
}

/** The answer to a refused call whose caller's share is spent (router/pipeline/refusal-charge.ts). */
function spentShare(context: RequestContext, deps: RouterServerDeps, spent: SpentShare): CallToolResult {
  deps.metrics?.rateLimited(callLabels(context), spent.layer);
  return toolErrorFor(spent.error);
}

/**
 * What a caller is told of a failure inside the router itself (an operator's shared tool that
 * threw, a defect): that it happened, not its message, which may name files, hosts or other
 * tenants (the SDK answers a thrown error with its message). The log keeps the error, stack and all.
 * The router's refusals (ProtocolError) and the SDK's own errors (a closed exchange) pass as they are.
 */
function internalError(log: RequestContext['log'], tool: string, error: unknown): ProtocolError {
  log.error({ tool, err: error }, 'tools/call failed inside the router');
  return new ProtocolError(ProtocolErrorCode.InternalError, 'Internal error');
}

function unknownTool(name: string): Error {
  // Same structured data as a tool error: a tool the caller may not use does not exist for it.
  const error = new BulkheadError('unknown_tool', `no tool named ${name} is available to this caller`);
  return protocolErrorFor(error, `Unknown tool: ${name}`);
}

export function createRouterServer(
  context: RequestContext,
  deps: RouterServerDeps,
  info: ServerRequestInfo = { era: 'modern' },
): Server {
  const server = new RequestServer(
    { name: 'bulkhead', version: '0.1.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: {},
        prompts: {},
        completions: {},
        logging: {},
      },
    },
  );
  const { principal, tenant, log, trace } = context;
  registerRelayHandlers(server, context, deps, info);
  // The call's admission, started by the endpoint before the SDK's handler (admitEarly): used by the
  // first run below.
  let admission = info.admission;

  server.setRequestHandler('tools/list', async () => {
    // Taken from the caller's listing budgets first: a listing past them is refused before the
    // surface is built, and leaves no record (list-charge.ts).
    const charged = await chargeListing(context, deps);
    const tools = context.visible().map((t) => t.wire);
    // Started before the SDK sends the list, which leaves once it is written (request/answer-hold.ts).
    const record = listRecord(
      context,
      tools.map((t) => t.name),
    );
    context.answer.add(writeAudit(context, deps, record));
    return charged ? { tools, _meta: { [BUDGET_META_KEY]: budgetMeta(charged) } } : { tools };
  });

  server.setRequestHandler('tools/call', async (request, ctx) => {
    const started = performance.now();
    const labels = callLabels(context);
    const answered = (code: string | undefined, meta?: Record<string, unknown>, error?: unknown): void => {
      const latencyMs = performance.now() - started;
      deps.metrics?.callAnswered(labels, code, latencyMs / 1000);
      if (code !== undefined) context.trace?.failed(errorClassOf(code));
      const { name, arguments: args } = request.params;
      const audit = refusalAudit(deps.refusals, callerOf(context), error, name);
      if (!audit.recorded) return;
      const record = callRecord(context, { name, args, code, latencyMs, meta, repeats: audit.repeats }, deps);
      // Started before the SDK builds the answer, which leaves once it is written (request/answer-hold.ts).
      // Answered state_unavailable: Redis is not answering, the record would only delay the answer.
      context.answer.add(
        traced(
          context.trace,
          'audit',
          () => writeAudit(context, deps, record, code !== 'state_unavailable'),
          { leaf: true },
        ),
      );
    };
    // A 2025 session's request is aborted by its client's cancellation too (client-requests.ts).
    const session = info.era === 'legacy' ? sessionOf(ctx) : undefined;
    let result;
    try {
      result = await deps.questions.during(
        { session, id: ctx.mcpReq.id, signal: ctx.mcpReq.signal },
        (signal) => answerCall(request.params, ctx, signal),
      );
    } catch (error) {
      // A refusal answered as a JSON-RPC error carries its structured error (json-rpc.ts).
      const refusal = error instanceof ProtocolError ? error.data : undefined;
      answered(error instanceof ProtocolError ? errorCodeIn(refusal) : 'internal', undefined, refusal);
      throw error instanceof ProtocolError || error instanceof SdkError
        ? error
        : internalError(log, request.params.name, error);
    }
    const failure = (result.structuredContent as { error?: unknown } | undefined)?.error;
    answered(resultCode(result), result._meta as Record<string, unknown> | undefined, failure);
    return result;
  });

  /** Cancellation and notifications between the client and the runtime, for this call. */
  function relayFor(
    params: { _meta?: { progressToken?: string | number } | undefined },
    ctx: ServerContext,
    signal: AbortSignal,
  ): CallRelay {
    return {
      signal,
      progressToken: params._meta?.progressToken,
      notify: async (notification) => {
        if (
          notification.method === 'notifications/message' &&
          !logLevelPasses(notification.params?.level, info.logLevel)
        )
          return;
        await ctx.mcpReq.notify(notification);
      },
    };
  }

  async function answerCall(
    params: {
      name: string;
      arguments?: Record<string, unknown> | undefined;
      _meta?: { progressToken?: string | number } | undefined;
    },
    ctx: ServerContext,
    signal: AbortSignal,
  ) {
    const { name, arguments: rawArgs = {} } = params;
    const call = context.call;
    // The SDK dispatches the very body the context was built from: the names agree.
    if (call?.name !== name) throw new Error('a tools/call reached the server without its decision');
    if (tenant?.status === 'suspended') {
      const spent = await chargeRefusal(context, deps, name);
      if (spent) return spentShare(context, deps, spent);
      return toolError('tenant_suspended', `tenant "${tenant.id}" is suspended`);
    }
    const { decision, tool } = call;
    if (!decision.permit && decision.answer === 'step_up') {
      // Normally answered at the HTTP layer (403 insufficient_scope, request/step-up.ts) before this
      // handler runs; kept structured here for any path that bypasses it.
      return toolError('insufficient_scope', `this call needs the scope "${decision.scope}"`);
    }
    if (!decision.permit || !tool) {
      const spent = await chargeRefusal(context, deps, name);
      if (spent) return spentShare(context, deps, spent);
      throw unknownTool(name);
    }
    const binding = { principal, tenant, request: `tools/call:${name}` };
    const session = sessionOf(ctx);
    const relay = relayFor(params, ctx, signal);
    const run = (inputResponses?: Record<string, unknown>, requestState?: string) => {
      // The first run of this request uses the admission started with the server; a later round
      // (answered input requests) is admitted again, as a call of its own.
      const admitted = admission?.take();
      admission = undefined;
      return runToolCall(
        {
          principal,
          tenant,
          tool,
          visible: () => context.visible(),
          rawArgs,
          log,
          relay: { ...relay, inputResponses, requestState },
          trace,
          alone: context.alone,
        },
        deps,
        admitted,
      );
    };
    let runtimeState: string | undefined;
    try {
      runtimeState = openedState(deps.seal, binding, ctx.mcpReq.requestState());
    } catch (error) {
      if (isBulkheadError(error)) return toolErrorFor(error);
      throw error;
    }
    const first = await run(ctx.mcpReq.inputResponses, runtimeState);
    try {
      return (await answerInputRounds(first, {
        seal: deps.seal,
        binding,
        client: askedBy(info, ctx),
        push:
          info.era === 'legacy' && session
            ? {
                questions: deps.questions,
                server,
                session,
                relatedRequestId: ctx.mcpReq.id,
                signal,
              }
            : undefined,
        retry: (responses, inner) => run(responses, inner),
      })) as CallToolResult;
    } catch (error) {
      if (isBulkheadError(error)) return toolErrorFor(error);
      throw error;
    }
  }
  server.onclose = forgettingHandlers(server);
  return server;
}
