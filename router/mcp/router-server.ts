// The MCP server the router builds for one request, from the request's context (router/request/):
// tools/list answers the tools the principal may see; tools/call runs the pipeline
// (router/pipeline/): validation, then in-process shared tools or idempotent dispatch to the
// tenant's own runtime. Each leaves one record in the tenant's audit trail once answered
// (call-audit.ts).
import { ProtocolError, Server } from '@modelcontextprotocol/server';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { runToolCall, type CallPipelineDeps } from '../pipeline/call-pipeline.ts';
import { callRecord, listRecord, writeAudit, type CallAuditDeps } from './call-audit.ts';
import type { RequestContext } from '../request/request-context.ts';
import { protocolErrorFor } from './json-rpc.ts';
import { errorCodeIn, resultCode, UNKNOWN_TOOL } from '../metrics/router-metrics.ts';

export interface RouterServerDeps extends CallPipelineDeps, CallAuditDeps {
  dispatcher: TenantDispatcher;
}

function unknownTool(name: string): Error {
  // Same structured data as a tool error: a tool the caller may not use does not exist for it.
  const error = new BulkheadError('unknown_tool', `no tool named ${name} is available to this caller`);
  return protocolErrorFor(error, `Unknown tool: ${name}`);
}

export function createRouterServer(context: RequestContext, deps: RouterServerDeps): Server {
  const server = new Server(
    { name: 'bulkhead', version: '0.1.0' },
    { capabilities: { tools: { listChanged: true } } },
  );
  const { principal, tenant, log } = context;

  server.setRequestHandler('tools/list', async () => {
    const tools = context.visible().map((t) => t.wire);
    await writeAudit(
      context,
      deps,
      listRecord(
        context,
        tools.map((t) => t.name),
      ),
    );
    return { tools };
  });

  server.setRequestHandler('tools/call', async (request) => {
    const started = performance.now();
    // The tool label: a name the caller may use (from the served surface), never the request's.
    const labels = { tenant: principal.tenant, tool: context.call?.tool?.definition.name ?? UNKNOWN_TOOL };
    const answered = async (code: string | undefined, meta?: Record<string, unknown>): Promise<void> => {
      const latencyMs = performance.now() - started;
      deps.metrics?.callAnswered(labels, code, latencyMs / 1000);
      const { name, arguments: args } = request.params;
      const record = callRecord(context, { name, args, code, latencyMs, meta }, deps);
      // Answered state_unavailable: Redis is not answering, the record would only delay the answer.
      await writeAudit(context, deps, record, code !== 'state_unavailable');
    };
    let result;
    try {
      result = await answerCall(request.params);
    } catch (error) {
      // A refusal answered as a JSON-RPC error carries its structured error (json-rpc.ts).
      await answered(error instanceof ProtocolError ? errorCodeIn(error.data) : 'internal');
      throw error;
    }
    await answered(resultCode(result), result._meta as Record<string, unknown> | undefined);
    return result;
  });

  async function answerCall(params: { name: string; arguments?: Record<string, unknown> | undefined }) {
    const { name, arguments: rawArgs = {} } = params;
    const call = context.call;
    // The SDK dispatches the very body the context was built from: the names agree.
    if (call?.name !== name) throw new Error('a tools/call reached the server without its decision');
    if (tenant?.status === 'suspended')
      return toolError('tenant_suspended', `tenant "${tenant.id}" is suspended`);
    const { decision, tool } = call;
    if (!decision.permit && decision.answer === 'step_up') {
      // Normally answered at the HTTP layer (403 insufficient_scope, request/step-up.ts) before this
      // handler runs; kept structured here for any path that bypasses it.
      return toolError('insufficient_scope', `this call needs the scope "${decision.scope}"`);
    }
    if (!decision.permit || !tool) throw unknownTool(name);
    return runToolCall({ principal, tenant, tool, visible: context.visible(), rawArgs, log }, deps);
  }
  return server;
}
