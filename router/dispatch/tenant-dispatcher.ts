// Sends a tenant tool call to that tenant's own runtime, and only there, over the tenant's route
// (tenant-routes.ts) in a signed, bounded session of its own (runtime-session.ts). This file is the
// retry policy: a call is retried only when it provably never reached the container; a broken
// read bound or a tampered socket is reported as the security event it is.
import type { Result } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import { vettedResult, type ResultCheck } from './runtime-result.ts';
import { tamperedSocketIn, type RuntimeSocketTamperedError } from '../../supervisor/client/runtime-socket.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import type { ToolGuard } from '../tools/drift-guard.ts';
import {
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
import type { CallRelay, ForwardedMethod, ToolAnswer } from './call-relay.ts';
import type { CallSigner } from './call-signer.ts';
import { RuntimeSession } from './runtime-session.ts';
import type { RuntimeSpanSink } from './runtime-spans.ts';
import {
  TenantRoutes,
  type RuntimeLocator,
  type RuntimeStateView,
  type TenantRoute,
  type TenantRoutesOptions,
} from './tenant-routes.ts';

export type { RuntimeLocator, RuntimeStateView } from './tenant-routes.ts';

/** Defaults of the optional knobs (router/config.ts declares them with these). */
export const DISPATCH_DEFAULTS = { callTimeoutMs: 30_000, routeFreshnessMs: 500 } as const;

export interface TenantDispatcherOptions {
  runtimes: RuntimeLocator;
  sign: CallSigner;
  logger: Logger;
  /** A tenant call that gets no answer within this time fails as `transient`. */
  callTimeoutMs?: number;
  /** Without it, routes are trusted until the socket refuses (no idle tiers). */
  stateView?: RuntimeStateView;
  /** A route verified longer ago than this is checked against the epoch before use. */
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
  /** Told how long each runtime ensure took (TenantRoutesOptions.onEnsured). */
  onEnsured?: TenantRoutesOptions['onEnsured'];
  /** Takes the spans a runtime returns with a traced call (runtime-spans.ts); none: ignored. */
  onRuntimeSpans?: RuntimeSpanSink | undefined;
}

/** A runtime broke a read bound while serving `tool` (or `tools/list` for a definition check). */
export interface ReadBreach {
  context: CallContext;
  tool: string;
  kind: BreachKind;
  message: string;
  runtimeId: string | undefined;
}

/** Context of the router's own requests (tool definition checks): no user, no scopes. */
function routerContext(tenant: string): CallContext {
  return { tenant, user: null, agent: 'bulkhead-router', scopes: [] };
}

export class TenantDispatcher {
  private readonly routes: TenantRoutes;
  private readonly options: TenantDispatcherOptions;
  private readonly bounds: RuntimeReadBounds;

  constructor(options: TenantDispatcherOptions) {
    this.options = options;
    this.bounds = options.bounds ?? DEFAULT_READ_BOUNDS;
    this.routes = new TenantRoutes({
      runtimes: options.runtimes,
      stateView: options.stateView,
      freshnessMs: options.routeFreshnessMs ?? DISPATCH_DEFAULTS.routeFreshnessMs,
      bounds: this.bounds,
      onEnsured: options.onEnsured,
    });
  }

  /**
   * A tool call; a multi-round-trip tool may answer `input_required` (call-relay.ts). `check`: what
   * the tool's result must be (its output schema); one it refuses is a broken answer.
   */
  async callTool(
    context: CallContext,
    name: string,
    args: Record<string, unknown>,
    relay: CallRelay = {},
    check?: ResultCheck,
  ): Promise<ToolAnswer> {
    const params = { name, arguments: args };
    return (await this.forward(context, 'tools/call', params, relay, check)) as ToolAnswer;
  }

  /**
   * One request to the tenant's runtime (a tool call, or a resource, prompt or completion request),
   * with the relay's cancellation and notifications. Every result, a retry's too, is vetted
   * (runtime-result.ts): a result `check` refuses is handled as a broken read bound.
   */
  async forward(
    context: CallContext,
    method: ForwardedMethod,
    params: Record<string, unknown>,
    relay: CallRelay = {},
    check?: ResultCheck,
  ): Promise<Result> {
    const name = method === 'tools/call' ? String(params.name) : method;
    /** The route the last attempt used, once it had one. */
    let used: TenantRoute | undefined;
    const once = async (): Promise<Result> => {
      used = undefined;
      used = await this.routes.fresh(context.tenant);
      return vettedResult(await this.forwardOn(used, context, method, params, relay), check);
    };
    try {
      return await once();
    } catch (error) {
      const failure = classifyCallFailure(error);
      if (failure === 'other') throw error;
      // Whatever happened, the route this call used is suspect: the next call asks the supervisor again.
      await this.report(error, failure, context, name, await this.dropRoute(context.tenant, used));
      if (failure === 'tampered') throw beingReplaced(context.tenant);
      if (failure !== 'not_delivered') {
        // The request reached the container (it crashed, was killed or froze mid-call): the tool
        // may have run, so retrying here could run a write twice. Report, never retry.
        this.options.logger.warn(
          { tenant: context.tenant, failure, err: error },
          'runtime failed during a call',
        );
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
        return await once();
      } catch (retryError) {
        const retryFailure = classifyCallFailure(retryError);
        if (retryFailure === 'other') throw retryError;
        await this.report(
          retryError,
          retryFailure,
          context,
          name,
          await this.dropRoute(context.tenant, used),
        );
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

  /**
   * Drops the route a failed attempt used, only if no call renewed it since: a newer route (another
   * call found the epoch moved) is the one calls are waiting on. The failed route's runtime is
   * returned for the report. Without a route (the attempt failed before it had one), the tenant's.
   */
  private async dropRoute(tenant: string, used: TenantRoute | undefined): Promise<string | undefined> {
    if (!used) return this.routes.forget(tenant);
    await this.routes.forgetRoute(tenant, used);
    return used.runtimeId;
  }

  private async forwardOn(
    route: TenantRoute,
    context: CallContext,
    method: ForwardedMethod,
    params: Record<string, unknown>,
    relay: CallRelay,
  ): Promise<Result> {
    const session = this.session(route, context);
    try {
      return await session.reads.run(() =>
        session.forward({ tenant: context.tenant, method, params }, this.routes, this.options.guard, relay),
      );
    } finally {
      session.close();
    }
  }

  private session(route: TenantRoute, context: CallContext): RuntimeSession {
    return new RuntimeSession(route, context, {
      sign: this.options.sign,
      bounds: this.bounds,
      timeoutMs: this.options.callTimeoutMs ?? DISPATCH_DEFAULTS.callTimeoutMs,
      onSpans: this.options.onRuntimeSpans,
    });
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

  /**
   * Re-checks the tool definitions of every tenant with an established route (periodic check). A
   * route whose runtime was paused, stopped or replaced since it was made is dropped unchecked: a
   * paused container's socket accepts the request and never answers (the pass would wait out the
   * call deadline, tenant after tenant), a stopped one is gone, and the next call renews the route
   * (a new runtime's definitions are checked before that call). The check records no activity, so it
   * never keeps an idle tenant awake.
   */
  async recheckTools(): Promise<void> {
    const guard = this.options.guard;
    if (!guard) return;
    for await (const [tenant, route] of this.routes.established()) {
      const current = await this.routes.current(tenant, route).catch((error: unknown) => {
        // Redis did not answer: check as before (a paused runtime costs one call deadline).
        this.options.logger.warn({ tenant, err: error }, 'runtime epoch not read for the tool check');
        return true;
      });
      if (!current) {
        await this.routes.forgetRoute(tenant, route);
        continue;
      }
      const context = routerContext(tenant);
      const session = this.session(route, context);
      try {
        await session.reads.run(async () => guard.check(tenant, await session.listTools()));
      } catch (error) {
        const failure = classifyCallFailure(error);
        if (failure === 'tampered' || failure === 'bound_exceeded')
          await this.report(error, failure, context, 'tools/list', await this.dropRoute(tenant, route));
        else this.options.logger.warn({ tenant, err: error }, 'tool definition check failed');
      } finally {
        session.close();
      }
    }
  }

  async close(): Promise<void> {
    await this.routes.close();
  }
}
