// Where each tenant's runtime is, as far as the router knows: one route per tenant (endpoint,
// bounded HTTP agent, whether its tool definitions were checked), renewed when the tenant's runtime
// epoch moved (paused, stopped, recycled) and dropped when a call finds it broken.
import { Agent } from 'undici';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { runtimeSocketConnector } from '../../supervisor/client/runtime-socket.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import { boundedAgentOptions, type RuntimeReadBounds } from './bounded-fetch.ts';

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
  /** The tenant's current runtime epoch, read without recording activity (the router's own checks). */
  epoch?(tenantId: string): Promise<number>;
}

export interface TenantRoute {
  endpoint: RuntimeEndpoint;
  agent: Agent;
  url: URL;
  epoch: number | undefined;
  verifiedAt: number;
  toolsChecked?: boolean;
  runtimeId: string | undefined;
}

export interface TenantRoutesOptions {
  runtimes: RuntimeLocator;
  /** Without it, routes are trusted until the socket refuses (no idle tiers). */
  stateView?: RuntimeStateView | undefined;
  /** A route verified longer ago than this is checked against the epoch before use. */
  freshnessMs: number;
  bounds: RuntimeReadBounds;
  /** Told how long each ensure took as the router saw it (a cold start or wake included). */
  onEnsured?: ((outcome: 'ok' | 'error', seconds: number) => void) | undefined;
}

/**
 * The touch (a Redis round trip) failed or timed out. Nothing was sent to the runtime, so the
 * caller answers `state_unavailable` (nothing ran, a retry is safe: router/pipeline/call-pipeline.ts),
 * not a runtime that failed during the call.
 */
export class StateViewUnavailableError extends BulkheadError<'state_unavailable'> {
  constructor(cause: unknown) {
    super('state_unavailable', 'the runtime state view (Redis) did not answer; nothing was sent', {
      retryAfterMs: 1_000,
      cause,
    });
  }
}

async function touch(view: RuntimeStateView, tenantId: string): Promise<number> {
  try {
    return await view.touch(tenantId);
  } catch (error) {
    throw new StateViewUnavailableError(error);
  }
}

export class TenantRoutes {
  private readonly routes = new Map<string, Promise<TenantRoute>>();
  /** What each route promise resolved to, once it has: a newer, still pending route is not it. */
  private readonly resolved = new WeakMap<Promise<TenantRoute>, TenantRoute>();
  /**
   * The runtime whose tool definitions were last checked per tenant. A route renewed onto the same
   * runtime (a wake from paused or stopped: same container, same image) needs no new check before
   * its first call; a new runtime (recycle, crash) does. The periodic recheck covers run-time drift.
   */
  private readonly checkedRuntimes = new Map<string, string>();
  private readonly options: TenantRoutesOptions;

  constructor(options: TenantRoutesOptions) {
    this.options = options;
  }

  /** The route's tool definitions were checked: a renewal onto the same runtime needs no new check. */
  noteChecked(tenantId: string, route: TenantRoute): void {
    route.toolsChecked = true;
    if (route.runtimeId) this.checkedRuntimes.set(tenantId, route.runtimeId);
  }

  /**
   * The cached route, checked against the tenant's runtime epoch when it has not been verified
   * recently: a paused runtime's socket accepts connections and never answers, so the router must
   * hear about the pause before it sends anything, not after a timeout.
   */
  async fresh(tenantId: string): Promise<TenantRoute> {
    const view = this.options.stateView;
    if (!view) return this.route(tenantId);
    const cached = this.routes.get(tenantId);
    const touchedAt = performance.now();
    if (cached) {
      const route = await cached.catch(() => undefined);
      if (route && touchedAt - route.verifiedAt < this.options.freshnessMs) return route;
      const epoch = await touch(view, tenantId);
      if (route && route.epoch === epoch) {
        route.verifiedAt = touchedAt;
        return route;
      }
      if (this.routes.get(tenantId) === cached) void this.forget(tenantId);
    } else {
      // Record the activity before the ensure, so that no idle tier acts on the tenant meanwhile.
      await touch(view, tenantId);
    }
    // Fresh only as of the touch: activity was recorded then, not when the (maybe slow) ensure ended.
    return this.route(tenantId, touchedAt);
  }

  private route(tenantId: string, touchedAt?: number): Promise<TenantRoute> {
    let route = this.routes.get(tenantId);
    if (!route) {
      const { runtimes, bounds, onEnsured } = this.options;
      const started = performance.now();
      const timed = (outcome: 'ok' | 'error') => () =>
        onEnsured?.(outcome, (performance.now() - started) / 1000);
      const ensured = runtimes.ensureRuntime
        ? runtimes.ensureRuntime(tenantId)
        : runtimes
            .ensure(tenantId)
            .then((endpoint) => ({ endpoint, epoch: undefined, runtimeId: undefined }));
      ensured.then(timed('ok'), timed('error'));
      route = ensured.then(({ endpoint, epoch, runtimeId }): TenantRoute => {
        const verifiedAt = touchedAt ?? performance.now();
        const toolsChecked = runtimeId !== undefined && this.checkedRuntimes.get(tenantId) === runtimeId;
        const common = { endpoint, epoch, verifiedAt, runtimeId, toolsChecked };
        if (endpoint.kind !== 'unix')
          return {
            ...common,
            agent: new Agent(boundedAgentOptions(bounds)),
            url: new URL('/mcp', endpoint.url),
          };
        return {
          ...common,
          // Every new connection checks the socket inode first (type, owner) and connects to that
          // very inode: a swapped path is refused before a byte is sent.
          agent: new Agent({ ...boundedAgentOptions(bounds), connect: runtimeSocketConnector(endpoint) }),
          url: new URL('http://tenant/mcp'),
        };
      });
      const pending = route;
      pending.then(
        (settled) => this.resolved.set(pending, settled),
        () => this.routes.delete(tenantId),
      );
      this.routes.set(tenantId, pending);
    }
    return route;
  }

  /** Drops the tenant's route; resolves to the runtime it led to, when known. */
  async forget(tenantId: string): Promise<string | undefined> {
    const route = this.routes.get(tenantId);
    this.routes.delete(tenantId);
    const settled = await route?.catch(() => undefined);
    void settled?.agent.close().catch(() => undefined);
    return settled?.runtimeId;
  }

  /**
   * Whether the route still leads to the tenant's current runtime, read without recording activity:
   * false once the supervisor paused, stopped or replaced it (its epoch moved). True when that cannot
   * be known (no state view, or a route handed out without an epoch).
   */
  async current(tenantId: string, route: TenantRoute): Promise<boolean> {
    const view = this.options.stateView;
    if (!view?.epoch || route.epoch === undefined) return true;
    return (await view.epoch(tenantId)) === route.epoch;
  }

  /**
   * Drops the tenant's route if it is still this one. A call may have renewed it meanwhile (the
   * epoch moved, or another call found this one broken first): the newer route, settled or still
   * being ensured, is kept, and not waited for. Dropping it would close the agent that the calls
   * waiting on it are about to use.
   */
  async forgetRoute(tenantId: string, route: TenantRoute): Promise<void> {
    const pending = this.routes.get(tenantId);
    if (pending && this.resolved.get(pending) === route) await this.forget(tenantId);
  }

  /** Every tenant with an established route (the periodic tool definition check walks them). */
  async *established(): AsyncGenerator<[string, TenantRoute]> {
    for (const [tenant, pending] of this.routes) {
      const route = await pending.catch(() => undefined);
      if (route) yield [tenant, route];
    }
  }

  async close(): Promise<void> {
    const routes = await Promise.allSettled([...this.routes.values()]);
    this.routes.clear();
    await Promise.all(routes.flatMap((r) => (r.status === 'fulfilled' ? [r.value.agent.close()] : [])));
  }
}
