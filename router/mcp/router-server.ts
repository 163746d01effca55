// The MCP server the router builds for one request: tools/list from the manifest filtered by what
// the verified principal may use; tools/call validated here, then served in-process (shared tools)
// or sent to the tenant's own runtime (tenant tools).
import { ProtocolError, Server, type CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { toolError } from '../../tenants/contracts/tool-errors.ts';
import { RuntimeRequestError } from '../../supervisor/client/runtime-client.ts';
import type { Principal } from '../auth/principal.ts';
import { RuntimeUnavailableError, type TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import type { TenantLookup } from '../tenancy/tenant-directory.ts';
import { SHARED_TOOL_HANDLERS } from '../tools/shared-tools.ts';
import { visibleTools } from '../tools/tool-catalog.ts';

export interface RouterServerDeps {
  tenants: TenantLookup;
  dispatcher: TenantDispatcher;
  logger: Logger;
}

const INVALID_PARAMS = -32602;

function runtimeFailure(error: unknown): CallToolResult | undefined {
  if (error instanceof RuntimeUnavailableError) {
    return toolError('transient', 'runtime_unavailable', error.message, {
      retry_after_ms: error.retryAfterMs,
    });
  }
  if (error instanceof RuntimeRequestError && error.code === 'runtime_backoff') {
    return toolError('transient', 'runtime_backoff', 'the tenant runtime is crash-looping; backing off', {
      retry_after_ms: error.retryAfterMs ?? 5_000,
    });
  }
  if (error instanceof RuntimeRequestError) {
    if (error.code === 'tenant_suspended' || error.code === 'tenant_not_found') {
      return toolError('authorization', error.code, 'the tenant is not active');
    }
    return toolError('transient', 'runtime_unavailable', 'the tenant runtime could not be started', {
      retry_after_ms: 2_000,
    });
  }
  return undefined;
}

export function createRouterServer(principal: Principal, deps: RouterServerDeps): Server {
  const server = new Server(
    { name: 'bulkhead', version: '0.1.0' },
    { capabilities: { tools: { listChanged: false } } },
  );
  const log = deps.logger.child({ tenant: principal.tenant, user: principal.user, agent: principal.agent });

  server.setRequestHandler('tools/list', async () => {
    const tenant = await deps.tenants.get(principal.tenant);
    return { tools: visibleTools(principal, tenant).map((t) => t.wire) };
  });

  server.setRequestHandler('tools/call', async (request) => {
    const { name, arguments: rawArgs = {} } = request.params;
    const tenant = await deps.tenants.get(principal.tenant);
    const tool = visibleTools(principal, tenant).find((t) => t.definition.name === name);
    if (!tool) {
      log.info({ tool: name, decision: 'deny', reason: 'not visible to this principal' }, 'authorization');
      throw new ProtocolError(INVALID_PARAMS, `Unknown tool: ${name}`);
    }
    log.info({ tool: name, decision: 'permit', reason: 'scope and tenant allow it' }, 'authorization');
    const parsed = tool.definition.inputSchema.safeParse(rawArgs);
    if (!parsed.success) {
      return toolError('validation', 'invalid_arguments', 'the arguments do not match the tool schema', {
        details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      });
    }
    const args = parsed.data as Record<string, unknown>;
    if (tool.definition.kind === 'shared') {
      const handler = SHARED_TOOL_HANDLERS[name];
      if (!handler) throw new Error(`shared tool ${name} has no handler`);
      return handler(principal, args);
    }
    try {
      return await deps.dispatcher.callTool(
        { tenant: principal.tenant, user: principal.user, agent: principal.agent, scopes: principal.scopes },
        name,
        args,
      );
    } catch (error) {
      const failure = runtimeFailure(error);
      if (!failure) throw error;
      log.warn({ tool: name, err: error }, 'tenant call failed');
      return failure;
    }
  });
  return server;
}
