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
import { classifyCallFailure, type CallFailure } from './call-failure.ts';
import type { CallSigner } from './call-signer.ts';

export interface RuntimeLocator {
  ensure(tenantId: string): Promise<RuntimeEndpoint>;
}

export interface TenantDispatcherOptions {
  runtimes: RuntimeLocator;
  sign: CallSigner;
  logger: Logger;
  callTimeoutMs?: number;
}

interface TenantRoute {
  endpoint: RuntimeEndpoint;
  agent: Agent;
  url: URL;
  discover?: DiscoverResult;
}

/**
 * The runtime could not serve the call: unreachable, crashed mid-call or silent past the timeout.
 * The caller gets a structured `transient` error with `retryAfterMs`; the router never retries a
 * call that may have been delivered (at most once).
 */
export class RuntimeUnavailableError extends Error {
  readonly retryAfterMs: number;
  readonly failure: CallFailure;
  constructor(message: string, options: { retryAfterMs: number; failure: CallFailure }) {
    super(message);
    this.retryAfterMs = options.retryAfterMs;
    this.failure = options.failure;
  }
}

const MODERN = '2026-07-28';

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
      const failure = classifyCallFailure(error);
      if (failure === 'other') throw error;
      // Whatever happened, the cached route is suspect: the next call asks the supervisor again.
      this.forget(context.tenant);
      if (failure !== 'not_delivered') {
        // The request reached the container (it crashed, was killed or froze mid-call): the tool
        // may have run, so retrying here could run a write twice. Report, never retry.
        this.options.logger.warn({ tenant: context.tenant, failure }, 'runtime failed during a call');
        throw new RuntimeUnavailableError(`the runtime for ${context.tenant} failed during the call`, {
          retryAfterMs: 500,
          failure,
        });
      }
      // A refused or missing socket means the container is gone (crash, idle reaping, engine
      // restart): the request never reached it, so asking the supervisor again and retrying
      // cannot run the tool twice.
      this.options.logger.info(
        { tenant: context.tenant },
        'runtime unreachable: asking the supervisor again',
      );
      try {
        return await this.callOnce(context, name, args);
      } catch (retryError) {
        const retryFailure = classifyCallFailure(retryError);
        if (retryFailure === 'other') throw retryError;
        this.forget(context.tenant);
        throw new RuntimeUnavailableError(`the runtime for ${context.tenant} is unreachable`, {
          retryAfterMs: 1_000,
          failure: retryFailure,
        });
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
      return await client.callTool({ name, arguments: args }, { timeout });
    } finally {
      await client.close().catch(() => undefined);
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
