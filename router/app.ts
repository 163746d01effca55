// The router's Express app factory: no listen, no config parsing; everything comes in as deps.
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { isBulkheadError } from '../kernel/errors/bulkhead-error.ts';
import type { AuthFloodGuard } from './auth/auth-flood-guard.ts';
import { bearerAuth } from './auth/bearer-auth.ts';
import type { TokenVerifier } from './auth/token-verifier.ts';
import { routerConfig } from './config.ts';
import { defaultOriginPolicy, originGuard, type OriginPolicy } from './http/origin.ts';
import { ConnectionActivity } from './http/connection-activity.ts';
import { bodyReadLimit } from './http/body-reads.ts';
import { hasJsonRpcAnswer, jsonRpcAnswer } from './mcp/json-rpc.ts';
import { createMcpEndpoint } from './mcp/mcp-endpoint.ts';
import { admitEarly, createRouterServer, type RouterServerDeps } from './mcp/router-server.ts';
import type { SessionStore } from './mcp/sessions.ts';
import type { ToolSurface } from './tools/tool-surface.ts';
import type { ToolChange } from './tools/pin-watcher.ts';
import { RequestTrace, type RequestTracing } from './request/request-trace.ts';
import type { AuthenticatedRequest } from './auth/bearer-auth.ts';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { RequestDrain } from './http/request-drain.ts';
import { ClientRequests } from './mcp/client-requests.ts';
import { createRequestStateSeal, type RequestStateSeal } from './mcp/request-state.ts';

export interface AppDeps extends Omit<RouterServerDeps, 'seal' | 'questions'> {
  /** Seals multi-round-trip state; without it, a key of this process only (one router, tests). */
  seal?: RequestStateSeal;
  /** This server's resource URL (RFC 8707 audience), e.g. https://mcp.example.com/mcp. */
  resourceUrl: string;
  authorizationServers: string[];
  /** The scopes advertised now (router/auth/advertised-scopes.ts): they grow as packs are approved. */
  scopesSupported: () => readonly string[];
  verify: TokenVerifier;
  /** The served tool surface (pins, shared tools, drift guard) each request's context reads. */
  surface: ToolSurface;
  logger: Logger;
  /** Request body bound (413); default: routerConfig's. */
  maxBodyBytes?: number;
  /** 2025-11-25 sessions, shared by every replica (Redis). */
  sessions: SessionStore;
  /** Origin and Host allowlists; defaults to the resource URL's own origin and hostname. */
  originPolicy?: OriginPolicy;
  /** Limits refused tokens per source address before verification; none: not limited. */
  authFlood?: AuthFloodGuard;
  /**
   * Told when served tool lists change, and whose: the app sends tools/list_changed to the listening
   * clients of those tenants only.
   */
  toolChanges?: { subscribe(listener: (change: ToolChange) => void): void };
  /** Request spans over OTLP (router/request/request-trace.ts); none: the router does not trace. */
  tracing?: RequestTracing | undefined;
  /** How long two requests seen in progress together make others not alone (http/connection-activity.ts). */
  connectionQuietMs?: number | undefined;
  /** Counts /mcp requests in flight for the router's shutdown to wait for; none: not counted. */
  drain?: RequestDrain;
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Around authentication: the request's span starts before it (its time counts) and learns after it
 * that it succeeded; it ends when the response has gone out. None of this when not tracing.
 */
function traceMiddleware(tracing: RequestTracing | undefined): { before: Middleware[]; after: Middleware[] } {
  if (!tracing) return { before: [], after: [] };
  const before: Middleware = (req, res, next) => {
    const trace = new RequestTrace(tracing, req.headers);
    res.locals.trace = trace;
    res.once('close', () => trace.finish(res.statusCode));
    next();
  };
  const after: Middleware = (req: AuthenticatedRequest, res, next) => {
    const trace = res.locals.trace as RequestTrace;
    trace.authenticated();
    if (req.auth) req.auth.extra = { ...req.auth.extra, trace } as typeof req.auth.extra;
    next();
  };
  return { before: [before], after: [after] };
}

/**
 * After authentication: notes which connection the request came on, and hands the endpoint the
 * question whether its client is the only one the router hears from (http/connection-activity.ts).
 */
function connectionNoted(activity: ConnectionActivity): Middleware {
  return (req: AuthenticatedRequest, res, next) => {
    // 'close' comes once the answer is written, or when the client went away before it.
    res.once('close', activity.arrived(req.socket));
    if (req.auth)
      req.auth.extra = { ...req.auth.extra, alone: activity.signalFor(req.socket) } as typeof req.auth.extra;
    next();
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const maxBodyBytes = deps.maxBodyBytes ?? routerConfig.fields.maxBodyBytes.schema.parse(undefined);
  const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(new URL(deps.resourceUrl));

  // Not the SDK's buildOAuthProtectedResourceMetadata: it names one authorization server, and
  // Bulkhead lists every trusted issuer (tenants bind to any of them).
  const metadata = () => ({
    resource: deps.resourceUrl,
    authorization_servers: deps.authorizationServers,
    scopes_supported: deps.scopesSupported(),
    bearer_methods_supported: ['header'],
    resource_name: 'Bulkhead',
  });
  app.get(['/.well-known/oauth-protected-resource', new URL(resourceMetadataUrl).pathname], (_req, res) => {
    res.json(metadata());
  });
  // Readiness for a balancer: once shutdown has begun (router/http/request-drain.ts) it answers 503,
  // while /mcp is still served through the notice period.
  app.get('/healthz', (_req, res) => {
    if (!deps.drain?.stopping) return void res.json({ ok: true });
    res.setHeader('Connection', 'close');
    res.status(503).json({ ok: false, stopping: true });
  });

  const serverDeps: RouterServerDeps = {
    ...deps,
    seal: deps.seal ?? createRequestStateSeal(randomBytes(32)),
    questions: new ClientRequests(),
  };
  const mcp = createMcpEndpoint({
    serverFor: (context, info) => createRouterServer(context, serverDeps, info),
    admit: (context, options) => admitEarly(context, serverDeps, options),
    questions: serverDeps.questions,
    sessions: deps.sessions,
    surface: deps.surface,
    resourceMetadataUrl,
    maxBodyBytes,
    logger: deps.logger,
  });
  deps.toolChanges?.subscribe((change) => {
    if (change.gone?.length) mcp.tenantsGone(change.gone);
    mcp.toolsChanged(change.tenants);
  });
  // The adapter reads the body, and it is the one size check: a longer body is answered 413 with
  // JSON-RPC code -32000, the body_too_large row of the error table. The endpoint parses it once.
  const handleMcp = toNodeHandler(mcp, {
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => deps.logger.error({ err: error }, 'mcp adapter error'),
  });

  const traced = traceMiddleware(deps.tracing);
  app.all(
    new URL(deps.resourceUrl).pathname,
    ...traced.before,
    originGuard(deps.originPolicy ?? defaultOriginPolicy(deps.resourceUrl), deps.logger),
    bearerAuth({
      verify: deps.verify,
      resourceMetadataUrl,
      scopesSupported: deps.scopesSupported,
      logger: deps.logger,
      metrics: deps.metrics,
      floodGuard: deps.authFlood,
    }),
    ...traced.after,
    bodyReadLimit({ logger: deps.logger, maxBodyBytes }),
    connectionNoted(new ConnectionActivity({ quietMs: deps.connectionQuietMs })),
    ...(deps.drain ? [deps.drain.track] : []),
    (req: Request, res: Response) => handleMcp(req, res),
  );

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (isBulkheadError(error) && hasJsonRpcAnswer(error)) {
      const { status, body } = jsonRpcAnswer(error);
      if (error.retryAfterMs !== undefined)
        res.set('Retry-After', String(Math.ceil(error.retryAfterMs / 1000)));
      res.status(status).json(body);
      return;
    }
    deps.logger.error({ err: error }, 'unhandled router error');
    if (!res.headersSent) res.status(500).json({ error: 'internal_error' });
  });
  return app;
}
