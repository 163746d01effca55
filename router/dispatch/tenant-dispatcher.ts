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
import {
  runtimeSocketConnector,
  tamperedSocketIn,
  type RuntimeSocketTamperedError,
} from '../../supervisor/client/runtime-socket.ts';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import type { ToolGuard } from '../tools/drift-guard.ts';
import {
  BoundedReads,
  boundedAgentOptions,
  DEFAULT_READ_BOUNDS,
  ReadBoundError,
  type BreachKind,
  type RuntimeReadBounds,
} from './bounded-fetch.ts';
import {
  beingReplaced,
  classifyCallFailure,
  RuntimeUnavailableError,
  type CallFailure,
} from './call-failure.ts';
import type { CallSigner } from './call-signer.ts';

export interface RuntimeLocator {
  ensure(tenantId: string): Promise<RuntimeEndpoint>;
  /** The endpoint with the runtime epoch it was handed out under, when the locator knows it. */
  ensureRuntime?(
    tenantId: string,
  ): Promise<{ endpoint: RuntimeEndpoint; epoch?: number | undefined; runtimeId?: string | undefined }>;
}

/**
 * Where the router learns that a tenant's runtime changed state (paused, stopped, recycled): it
 * records the call as activity and returns the tenant's current runtime epoch.
 */
export interface RuntimeStateView {
  touch(tenantId: string): Promise<number>;
}

export interface TenantDispatcherOptions {
  runtimes: RuntimeLocator;
  sign: CallSigner;
  logger: Logger;
  callTimeoutMs?: number;
  /** Without it, routes are trusted until the socket refuses (no idle tiers). */
  stateView?: RuntimeStateView;
  /** A route verified longer ago than this is checked against the epoch before use (default 500 ms). */
  routeFreshnessMs?: number;
  /** Pins tool definitions: checked on every new route before its first call (rug-pull protection). */
  guard?: ToolGuard;
  /** Bounds on every read from a runtime (default DEFAULT_READ_BOUNDS). */
  bounds?: RuntimeReadBounds;
  /** Told of every broken read bound (a security event), before the caller gets its error. */
  onBreach?: (breach: ReadBreach) => Promise<void>;
  /**
   * A tenant's socket was found tampered with (nothing was sent): record the security event and
   * have the runtime replaced. Without it the event is only logged.
   */
  onSocketTampered?: (tenant: string, error: RuntimeSocketTamperedError) => Promise<void>;
}

/** A runtime broke a read bound while serving `tool` (or `tools/list` for a definition check). */
export interface ReadBreach {
  context: CallContext;
  tool: string;
  kind: BreachKind;
  message: string;
  runtimeId: string | undefined;
}

interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
  reads: BoundedReads;
  timeout: number;
}

interface TenantRoute {
  endpoint: RuntimeEndpoint;
  agent: Agent;
  url: URL;
  discover?: DiscoverResult;
  epoch: number | undefined;
  verifiedAt: number;
  toolsChecked?: boolean;
  runtimeId: string | undefined;
}

/** Context of the router's own requests (tool definition checks): no user, no scopes. */
function routerContext(tenant: string): CallContext {
  return { tenant, user: null, agent: 'bulkhead-router', scopes: [] };
}

const MODERN = '2026-07-28';

export class TenantDispatcher {
  private readonly routes = new Map<string, Promise<TenantRoute>>();
  /** The runtime's server/discover answer per tenant, kept across route renewals (wake, recycle). */
  private readonly discovered = new Map<string, DiscoverResult>();
  /**
   * The runtime whose tool definitions were last checked per tenant. A route renewed onto the same
   * runtime (a wake from paused or stopped: same container, same image) needs no new check before
   * its first call; a new runtime (recycle, crash) does. The periodic recheck covers run-time drift.
   */
  private readonly checkedRuntimes = new Map<string, string>();
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
      await this.report(error, failure, context, name, await this.forget(context.tenant));
      if (failure === 'tampered') throw beingReplaced(context.tenant);
      if (failure !== 'not_delivered') {
        // The request reached the container (it crashed, was killed or froze mid-call): the tool
        // may have run, so retrying here could run a write twice. Report, never retry.
        this.options.logger.warn({ tenant: context.tenant, failure }, 'runtime failed during a call');
        throw new RuntimeUnavailableError(`the runtime for ${context.tenant} failed during the call`, {
          // After a breach the runtime is being replaced: a retry needs the new container.
          retryAfterMs: failure === 'bound_exceeded' ? 2_000 : 500,
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
        await this.report(retryError, retryFailure, context, name, await this.forget(context.tenant));
        if (retryFailure === 'tampered') throw beingReplaced(context.tenant);
        throw new RuntimeUnavailableError(`the runtime for ${context.tenant} is unreachable`, {
          retryAfterMs: 1_000,
          failure: retryFailure,
        });
      }
    }
  }

  /** Reports the security event behind a failure, if any: a tampered socket or a broken read bound. */
  private async report(
    error: unknown,
    failure: CallFailure,
    context: CallContext,
    tool: string,
    runtimeId: string | undefined,
  ): Promise<void> {
    if (failure === 'tampered') await this.reportTampered(context.tenant, error);
    else if (error instanceof ReadBoundError) await this.reportBreach(error, context, tool, runtimeId);
  }

  /** The route's socket was not the tenant's own (nothing was connected to, nothing sent). */
  private async reportTampered(tenant: string, error: unknown): Promise<void> {
    const tampered = tamperedSocketIn(error);
    if (!tampered) return;
    const report = this.options.onSocketTampered;
    if (!report) {
      this.options.logger.error({ tenant, err: tampered }, 'security: runtime socket tampered with');
      return;
    }
    await report(tenant, tampered).catch((reportError: unknown) =>
      this.options.logger.error({ tenant, err: reportError }, 'could not report a tampered socket'),
    );
  }

  private async callOnce(
    context: CallContext,
    name: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    const route = await this.freshRoute(context.tenant);
    const session = this.session(route, context);
    try {
      return await session.reads.run(() => this.serve({ ...session, route, context, name, args }));
    } finally {
      await session.client.close().catch(() => undefined);
    }
  }

  /** One SDK client on the route whose every read is bounded, with the call's deadline. */
  private session(route: TenantRoute, context: CallContext): Session {
    const client = new Client(
      { name: 'bulkhead-router', version: '0.1.0' },
      { versionNegotiation: { mode: { pin: MODERN } } },
    );
    const timeout = this.options.callTimeoutMs ?? 30_000;
    const reads = new BoundedReads(this.bounds, timeout);
    const transport = new StreamableHTTPClientTransport(route.url, {
      fetch: reads.fetch(this.signingFetch(route, context)),
    });
    client.onerror = (error) => reads.noteError(error);
    return { client, transport, reads, timeout };
  }

  /** Connects the session, skipping server/discover when the runtime's answer is known. */
  private connect({ client, transport, timeout }: Session, route: TenantRoute): Promise<void> {
    const { discover } = route;
    return client.connect(
      transport,
      discover ? { prior: { kind: 'modern', discover }, timeout } : { timeout },
    );
  }

  private async serve(
    call: Session & { route: TenantRoute; context: CallContext; name: string; args: Record<string, unknown> },
  ): Promise<CallToolResult> {
    const { client, route, context, name, args, timeout } = call;
    await this.connect(call, route);
    if (!route.discover) {
      route.discover = client.getDiscoverResult();
      if (route.discover) this.discovered.set(context.tenant, route.discover);
    }
    const guard = this.options.guard;
    if (guard && !route.toolsChecked) {
      guard.check(context.tenant, (await client.listTools(undefined, { timeout })).tools);
      route.toolsChecked = true;
      if (route.runtimeId) this.checkedRuntimes.set(context.tenant, route.runtimeId);
    }
    if (guard?.isWithheld(context.tenant, name)) {
      return toolError(
        'tool_withheld',
        `${name} is withheld: its definition in the tenant runtime is not the approved one`,
      );
    }
    return await client.callTool({ name, arguments: args }, { timeout });
  }

  private get bounds(): RuntimeReadBounds {
    return this.options.bounds ?? DEFAULT_READ_BOUNDS;
  }

  private async reportBreach(
    error: ReadBoundError,
    context: CallContext,
    tool: string,
    runtimeId: string | undefined,
  ): Promise<void> {
    const { kind, message } = error;
    this.options.logger.warn({ tenant: context.tenant, tool, kind, runtimeId }, 'runtime broke a read bound');
    await this.options.onBreach?.({ context, tool, kind, message, runtimeId }).catch((sinkError: unknown) => {
      this.options.logger.error({ tenant: context.tenant, err: sinkError }, 'security event not recorded');
    });
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

  /**
   * The cached route, checked against the tenant's runtime epoch when it has not been verified
   * recently: a paused runtime's socket accepts connections and never answers, so the router must
   * hear about the pause before it sends anything, not after a timeout.
   */
  private async freshRoute(tenantId: string): Promise<TenantRoute> {
    const view = this.options.stateView;
    if (!view) return this.route(tenantId);
    const cached = this.routes.get(tenantId);
    const freshness = this.options.routeFreshnessMs ?? 500;
    const touchedAt = performance.now();
    if (cached) {
      const route = await cached.catch(() => undefined);
      if (route && touchedAt - route.verifiedAt < freshness) return route;
      const epoch = await view.touch(tenantId);
      if (route && route.epoch === epoch) {
        route.verifiedAt = touchedAt;
        return route;
      }
      if (this.routes.get(tenantId) === cached) void this.forget(tenantId);
    } else {
      // Record the activity before the ensure, so that no idle tier acts on the tenant meanwhile.
      await view.touch(tenantId);
    }
    // Fresh only as of the touch: activity was recorded then, not when the (maybe slow) ensure ended.
    return this.route(tenantId, touchedAt);
  }

  private route(tenantId: string, touchedAt?: number): Promise<TenantRoute> {
    let route = this.routes.get(tenantId);
    if (!route) {
      const { runtimes } = this.options;
      const ensured = runtimes.ensureRuntime
        ? runtimes.ensureRuntime(tenantId)
        : runtimes
            .ensure(tenantId)
            .then((endpoint) => ({ endpoint, epoch: undefined, runtimeId: undefined }));
      route = ensured.then(({ endpoint, epoch, runtimeId }): TenantRoute => {
        const verifiedAt = touchedAt ?? performance.now();
        const discover = this.discovered.get(tenantId);
        const toolsChecked = runtimeId !== undefined && this.checkedRuntimes.get(tenantId) === runtimeId;
        const common = { endpoint, epoch, verifiedAt, runtimeId, toolsChecked };
        if (endpoint.kind !== 'unix')
          return {
            ...common,
            agent: new Agent(boundedAgentOptions(this.bounds)),
            url: new URL('/mcp', endpoint.url),
          };
        return {
          ...common,
          // Every new connection checks the socket inode first (type, owner) and connects to that
          // very inode: a swapped path is refused before a byte is sent.
          agent: new Agent({
            ...boundedAgentOptions(this.bounds),
            connect: runtimeSocketConnector(endpoint),
          }),
          url: new URL('http://tenant/mcp'),
          ...(discover ? { discover } : {}),
        };
      });
      route.catch(() => this.routes.delete(tenantId));
      this.routes.set(tenantId, route);
    }
    return route;
  }

  /** Drops the tenant's route; resolves to the runtime it led to, when known. */
  private async forget(tenantId: string): Promise<string | undefined> {
    const route = this.routes.get(tenantId);
    this.routes.delete(tenantId);
    const settled = await route?.catch(() => undefined);
    void settled?.agent.close().catch(() => undefined);
    return settled?.runtimeId;
  }

  /** Re-checks the tool definitions of every tenant with an established route (periodic check). */
  async recheckTools(): Promise<void> {
    const guard = this.options.guard;
    if (!guard) return;
    for (const [tenant, pending] of this.routes) {
      const route = await pending.catch(() => undefined);
      if (!route) continue;
      const context = routerContext(tenant);
      const session = this.session(route, context);
      const { client, reads, timeout } = session;
      try {
        await reads.run(async () => {
          await this.connect(session, route);
          guard.check(tenant, (await client.listTools(undefined, { timeout })).tools);
        });
      } catch (error) {
        const failure = classifyCallFailure(error);
        if (failure === 'tampered' || failure === 'bound_exceeded')
          await this.report(error, failure, context, 'tools/list', await this.forget(tenant));
        else this.options.logger.warn({ tenant, err: error }, 'tool definition check failed');
      } finally {
        await client.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    const routes = await Promise.allSettled([...this.routes.values()]);
    this.routes.clear();
    await Promise.all(routes.flatMap((r) => (r.status === 'fulfilled' ? [r.value.agent.close()] : [])));
  }
}
