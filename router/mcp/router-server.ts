// The MCP server the router builds for one request: tools/list from the tenant's served surface
// filtered by the authorization policy; tools/call decides (and records the decision in the log
// and the tenant's audit trail), then runs the pipeline (router/pipeline/): validation, then
// in-process shared tools or idempotent dispatch to the tenant's own runtime.
import { ProtocolError, Server } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { toolError, type StructuredError } from '../../kernel/tools/tool-errors.ts';
import type { Principal } from '../identity/principal.ts';
import { logToolDecision } from '../authz/decision-log.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { runToolCall, type CallPipelineDeps } from '../pipeline/call-pipeline.ts';
import type { TenantLookup } from '../tenancy/tenant-directory.ts';
import { decideCall, visibleTools } from '../tools/tool-catalog.ts';
import type { ToolSurface } from '../tools/tool-surface.ts';

export interface RouterServerDeps extends CallPipelineDeps {
  tenants: TenantLookup;
  dispatcher: TenantDispatcher;
  surface: ToolSurface;
  logger: Logger;
  /** Tamper-evident trail: one entry per tools/call decision (kernel/audit). */
  audit?: AuditSink;
}

const INVALID_PARAMS = -32602;

function unknownTool(name: string): ProtocolError {
  // Same structured data as a tool error: a tool the caller may not use does not exist for it.
  return new ProtocolError(INVALID_PARAMS, `Unknown tool: ${name}`, {
    error_class: 'validation',
    code: 'unknown_tool',
    message: `no tool named ${name} is available to this caller`,
    retryable: false,
  } satisfies StructuredError);
}

export function createRouterServer(principal: Principal, deps: RouterServerDeps): Server {
  const server = new Server(
    { name: 'bulkhead', version: '0.1.0' },
    { capabilities: { tools: { listChanged: true } } },
  );
  const log = deps.logger.child({ tenant: principal.tenant, user: principal.user, agent: principal.agent });

  server.setRequestHandler('tools/list', async () => {
    const tenant = await deps.tenants.get(principal.tenant);
    return { tools: visibleTools(principal, tenant, deps.surface).map((t) => t.wire) };
  });

  server.setRequestHandler('tools/call', async (request) => {
    const { name, arguments: rawArgs = {} } = request.params;
    const tenant = await deps.tenants.get(principal.tenant);
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
      log.info({ tool: name, decision: 'deny', reason: 'tenant_suspended' }, 'authorization');
      await audit('deny', 'tenant_suspended');
      return toolError('tenant_suspended', `tenant "${tenant.id}" is suspended`);
    }
    const decision = decideCall(principal, tenant, name, deps.surface);
    logToolDecision(deps.logger, principal, name, decision);
    await audit(decision.permit ? 'permit' : 'deny', decision.reason);
    if (!decision.permit && decision.answer === 'step_up') {
      // Normally answered at the HTTP layer (403 insufficient_scope, auth/step-up.ts) before this
      // handler runs; kept structured here for any path that bypasses it.
      return toolError('insufficient_scope', `this call needs the scope "${decision.scope}"`);
    }
    if (!decision.permit) throw unknownTool(name);
    const visible = visibleTools(principal, tenant, deps.surface);
    const tool = visible.find((t) => t.definition.name === name);
    if (!tool) throw unknownTool(name);
    return runToolCall({ principal, tenant, tool, visible, rawArgs, log }, deps);
  });
  return server;
}
