// The MCP server the router builds for one request: tools/list from the manifest filtered by what
// the verified principal may use; tools/call runs the pipeline (router/pipeline/): validation,
// then in-process shared tools or idempotent dispatch to the tenant's own runtime.
import { ProtocolError, Server } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { StructuredError } from '../../tenants/contracts/tool-errors.ts';
import type { Principal } from '../auth/principal.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { runToolCall, type CallPipelineDeps } from '../pipeline/call-pipeline.ts';
import type { TenantLookup } from '../tenancy/tenant-directory.ts';
import { visibleTools } from '../tools/tool-catalog.ts';
import type { ToolSurface } from '../tools/tool-surface.ts';

export interface RouterServerDeps extends CallPipelineDeps {
  tenants: TenantLookup;
  dispatcher: TenantDispatcher;
  surface: ToolSurface;
  logger: Logger;
}

const INVALID_PARAMS = -32602;

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
    const visible = visibleTools(principal, tenant, deps.surface);
    const tool = visible.find((t) => t.definition.name === name);
    if (!tool) {
      log.info({ tool: name, decision: 'deny', reason: 'not visible to this principal' }, 'authorization');
      // Same structured data as a tool error: a tool the caller may not use does not exist for it.
      throw new ProtocolError(INVALID_PARAMS, `Unknown tool: ${name}`, {
        error_class: 'validation',
        code: 'unknown_tool',
        message: `no tool named ${name} is available to this caller`,
        retryable: false,
      } satisfies StructuredError);
    }
    log.info({ tool: name, decision: 'permit', reason: 'scope and tenant allow it' }, 'authorization');
    return runToolCall({ principal, tenant, tool, visible, rawArgs, log }, deps);
  });
  return server;
}
