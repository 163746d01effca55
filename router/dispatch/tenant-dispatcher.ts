// Sends a tenant tool call to that tenant's own runtime, and only there. Each call gets a fresh SDK
// client whose fetch signs the router's assertion over the exact body it sends; the era verdict
// (server/discover) is cached per tenant so a warm call is one request on the socket.
import {
  Client,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type DiscoverResult,
  type FetchLike,
} from '@modelcontextprotocol/client';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type { Logger } from 'pino';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../tenants/contracts/call-assertion.ts';
import type { RuntimeEndpoint } from '../../tenants/contracts/runtime-endpoint.ts';
import { toolError } from '../../tenants/contracts/tool-errors.ts';
import type { ToolGuard } from '../pipeline/drift-guard.ts';
import type { CallSigner } from './call-signer.ts';

export interface RuntimeLocator {
  ensure(tenantId: string): Promise<RuntimeEndpoint>;
}

export interface TenantDispatcherOptions {
  runtimes: RuntimeLocator;
  sign: CallSigner;
  logger: Logger;
  callTimeoutMs?: number;
  /** Pins tool definitions: checked on every new route before its first call (rug-pull protection). */
  guard?: ToolGuard;
}

interface TenantRoute {
  endpoint: RuntimeEndpoint;
  agent: Agent;
  url: URL;
  discover?: DiscoverResult;
  toolsChecked?: boolean;
}

/** Context of the router's own requests (tool definition checks): no user, no scopes. */
function routerContext(tenant: string): CallContext {
  return { tenant, user: null, agent: 'bulkhead-router', scopes: [] };
}

/** The runtime could not be reached: nothing was delivered, so the call may be retried. */
export class RuntimeUnavailableError extends Error {}

const MODERN = '2026-07-28';

function isConnectionFailure(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET';
}

export class TenantDispatcher {
  private readonly routes = new Map<string, Promise<TenantRoute>>();
  private readonly options: TenantDispatcherOptions;

  constructor(options: TenantDispatcherOptions) {
    this.options = options;
  }

  async callTool(context: CallContext, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    try {
      return await this.callOnce(context, name, args);
    } catch (error) {
      // A refused or missing socket means the container is gone (crash, idle reaping): the request
      // never reached it, so asking the supervisor again and retrying cannot run the tool twice.
      if (!isConnectionFailure(error)) throw error;
      this.forget(context.tenant);
      this.options.logger.info(
        { tenant: context.tenant },
        'runtime unreachable: asking the supervisor again',
      );
      try {
        return await this.callOnce(context, name, args);
      } catch (retryError) {
        if (isConnectionFailure(retryError))
          throw new RuntimeUnavailableError(`runtime for ${context.tenant} is unreachable`);
        throw retryError;
      }
    }
  }

  private async callOnce(
    context: CallContext,
    name: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    const route = await this.route(context.tenant);
    const client = new Client(
      { name: 'bulkhead-router', version: '0.1.0' },
      { versionNegotiation: { mode: { pin: MODERN } } },
    );
    const transport = new StreamableHTTPClientTransport(route.url, {
      fetch: this.signingFetch(route, context),
    });
    const timeout = this.options.callTimeoutMs ?? 30_000;
    try {
      await client.connect(
        transport,
        route.discover ? { prior: { kind: 'modern', discover: route.discover }, timeout } : { timeout },
      );
      route.discover ??= client.getDiscoverResult();
      const guard = this.options.guard;
      if (guard && !route.toolsChecked) {
        guard.check(context.tenant, (await client.listTools(undefined, { timeout })).tools);
        route.toolsChecked = true;
      }
      if (guard?.isWithheld(context.tenant, name)) {
        return toolError(
          'permanent',
          'tool_withheld',
          `${name} is withheld: its definition in the tenant runtime is not the approved one`,
        );
      }
      return await client.callTool({ name, arguments: args }, { timeout });
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /** Re-checks the tool definitions of every tenant with an established route (periodic check). */
  async recheckTools(): Promise<void> {
    const guard = this.options.guard;
    if (!guard) return;
    for (const [tenant, pending] of this.routes) {
      const route = await pending.catch(() => undefined);
      if (!route) continue;
      const client = new Client(
        { name: 'bulkhead-router', version: '0.1.0' },
        { versionNegotiation: { mode: { pin: MODERN } } },
      );
      const transport = new StreamableHTTPClientTransport(route.url, {
        fetch: this.signingFetch(route, routerContext(tenant)),
      });
      const timeout = this.options.callTimeoutMs ?? 30_000;
      try {
        await client.connect(
          transport,
          route.discover ? { prior: { kind: 'modern', discover: route.discover }, timeout } : { timeout },
        );
        guard.check(tenant, (await client.listTools(undefined, { timeout })).tools);
      } catch (error) {
        this.options.logger.warn({ tenant, err: error }, 'tool definition check failed');
      } finally {
        await client.close().catch(() => undefined);
      }
    }
  }

  private signingFetch(route: TenantRoute, context: CallContext): FetchLike {
    const sign = this.options.sign;
    return async (url, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      const headers = new Headers(init?.headers);
      headers.set(CALL_ASSERTION_HEADER, await sign(context, body));
      const response = await undiciFetch(url, {
        ...(init as UndiciRequestInit),
        headers: Object.fromEntries(headers),
        dispatcher: route.agent,
      });
      return response;
    };
  }

  private route(tenantId: string): Promise<TenantRoute> {
    let route = this.routes.get(tenantId);
    if (!route) {
      route = this.options.runtimes.ensure(tenantId).then((endpoint) => {
        if (endpoint.kind !== 'unix')
          return { endpoint, agent: new Agent(), url: new URL('/mcp', endpoint.url) };
        return {
          endpoint,
          agent: new Agent({ connect: { socketPath: endpoint.socketPath } }),
          url: new URL('http://tenant/mcp'),
        };
      });
      route.catch(() => this.routes.delete(tenantId));
      this.routes.set(tenantId, route);
    }
    return route;
  }

  private forget(tenantId: string): void {
    const route = this.routes.get(tenantId);
    this.routes.delete(tenantId);
    void route?.then((r) => r.agent.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const routes = await Promise.allSettled([...this.routes.values()]);
    this.routes.clear();
    await Promise.all(routes.flatMap((r) => (r.status === 'fulfilled' ? [r.value.agent.close()] : [])));
  }
}
