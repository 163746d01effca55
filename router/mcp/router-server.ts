// The MCP server the router builds for one request, from the request's context (router/request/):
// tools/list answers the tools the principal may see; tools/call records the decision the context
// made in the tenant's audit trail, then runs the pipeline (router/pipeline/): validation, then
// in-process shared tools or idempotent dispatch to the tenant's own runtime.
import { ProtocolError, Server, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { toolError, toolErrorFor } from '../../kernel/tools/tool-errors.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { runToolCall, type CallPipelineDeps } from '../pipeline/call-pipeline.ts';
import {
  DEFAULT_STATE_POLICY,
  failsOpen,
  stateUnavailable,
  withinDeadline,
} from '../pipeline/state-guard.ts';
import type { RequestContext } from '../request/request-context.ts';
import type { CallRelay } from '../dispatch/call-relay.ts';
import { answerInputRounds, openedState } from './input-rounds.ts';
import { protocolErrorFor } from './json-rpc.ts';
import { logLevelPasses, registerRelayHandlers, type RelayDeps } from './relay-handlers.ts';
import { errorCodeIn, resultCode, UNKNOWN_TOOL } from '../metrics/router-metrics.ts';

export interface RouterServerDeps extends CallPipelineDeps, RelayDeps {
  dispatcher: TenantDispatcher;
  /** Tamper-evident trail: one entry per tools/call decision (kernel/audit). */
  audit?: AuditSink;
}

/** What the endpoint knows of the request beyond its context: the era, and a 2025 session's log level. */
export interface ServerRequestInfo {
  era: 'legacy' | 'modern';
  logLevel?: string | undefined;
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
  const server = new Server(
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
  const { principal, tenant, log } = context;
  registerRelayHandlers(server, context, deps, info.era);

  server.setRequestHandler('tools/list', () => ({ tools: context.visible().map((t) => t.wire) }));

  server.setRequestHandler('tools/call', async (request, ctx) => {
    const started = performance.now();
    // The tool label: a name the caller may use (from the served surface), never the request's.
    const labels = { tenant: principal.tenant, tool: context.call?.tool?.definition.name ?? UNKNOWN_TOOL };
    const answered = (code: string | undefined): void =>
      deps.metrics?.callAnswered(labels, code, (performance.now() - started) / 1000);
    try {
      const result = await answerCall(request.params, ctx);
      answered(resultCode(result));
      return result;
    } catch (error) {
      // A refusal answered as a JSON-RPC error carries its structured error (json-rpc.ts).
      answered(error instanceof ProtocolError ? errorCodeIn(error.data) : 'internal');
      throw error;
    }
  });

  /** Cancellation and notifications between the client and the runtime, for this call. */
  function relayFor(
    params: { _meta?: { progressToken?: string | number } | undefined },
    ctx: ServerContext,
  ): CallRelay {
    return {
      signal: ctx.mcpReq.signal,
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
  ) {
    const { name, arguments: rawArgs = {} } = params;
    const call = context.call;
    // The SDK dispatches the very body the context was built from: the names agree.
    if (call?.name !== name) throw new Error('a tools/call reached the server without its decision');
    const audit = (decision: 'permit' | 'deny', reason: string): Promise<void> =>
      deps.audit?.append({
        tenant: principal.tenant,
        user: principal.user,
        agent: principal.agent,
        tool: name,
        decision,
        reason,
      }) ?? Promise.resolve();
    if (tenant?.status === 'suspended') {
      await audit('deny', 'tenant_suspended');
      return toolError('tenant_suspended', `tenant "${tenant.id}" is suspended`);
    }
    const { decision, tool } = call;
    // The audit entry is written before the call runs; without Redis a permitted call is not run
    // unaudited, except a read-only shared tool configured to fail open (state-guard.ts).
    const state = deps.state ?? DEFAULT_STATE_POLICY;
    try {
      await withinDeadline(audit(decision.permit ? 'permit' : 'deny', decision.reason), state);
    } catch (error) {
      log.warn({ tool: name, err: error }, 'audit entry not written: state unavailable');
      if (decision.permit && !(tool && failsOpen(tool.definition, state)))
        return toolErrorFor(stateUnavailable());
    }
    if (!decision.permit && decision.answer === 'step_up') {
      // Normally answered at the HTTP layer (403 insufficient_scope, request/step-up.ts) before this
      // handler runs; kept structured here for any path that bypasses it.
      return toolError('insufficient_scope', `this call needs the scope "${decision.scope}"`);
    }
    if (!decision.permit || !tool) throw unknownTool(name);
    const binding = { principal, request: `tools/call:${name}` };
    const session = ctx.http?.req?.headers.get('mcp-session-id') ?? undefined;
    const relay = relayFor(params, ctx);
    const run = (inputResponses?: Record<string, unknown>, requestState?: string) =>
      runToolCall(
        {
          principal,
          tenant,
          tool,
          visible: context.visible(),
          rawArgs,
          log,
          relay: { ...relay, inputResponses, requestState },
        },
        deps,
      );
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
        push:
          info.era === 'legacy' && session
            ? {
                questions: deps.questions,
                server,
                session,
                relatedRequestId: ctx.mcpReq.id,
                signal: ctx.mcpReq.signal,
              }
            : undefined,
        retry: (responses, inner) => run(responses, inner),
      })) as CallToolResult;
    } catch (error) {
      if (isBulkheadError(error)) return toolErrorFor(error);
      throw error;
    }
  }
  return server;
}
