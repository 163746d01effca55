// The router's Express app factory: no listen, no config parsing; everything comes in as deps.
import { toNodeHandler } from '@modelcontextprotocol/node';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { bearerAuth, type AuthenticatedRequest } from './auth/bearer-auth.ts';
import { stepUpChallenge } from './http/step-up.ts';
import type { Principal } from './identity/principal.ts';
import type { TokenVerifier } from './auth/token-verifier.ts';
import { defaultOriginPolicy, originGuard, type OriginPolicy } from './http/origin.ts';
import { createMcpEndpoint } from './mcp/mcp-endpoint.ts';
import { createRouterServer, type RouterServerDeps } from './mcp/router-server.ts';
import type { SessionStore } from './mcp/sessions.ts';

export interface AppDeps extends RouterServerDeps {
  /** This server's resource URL (RFC 8707 audience), e.g. https://mcp.example.com/mcp. */
  resourceUrl: string;
  authorizationServers: string[];
  scopesSupported: string[];
  verify: TokenVerifier;
  maxBodyBytes?: number;
  /** 2025-11-25 sessions, shared by every replica (Redis). */
  sessions: SessionStore;
  /** Origin and Host allowlists; defaults to the resource URL's own origin and hostname. */
  originPolicy?: OriginPolicy;
  /** Told when served tool lists change: the app sends tools/list_changed to listening clients. */
  toolChanges?: { subscribe(listener: () => void): void };
}

/** RFC 9728 well-known URL with the resource path inserted after the well-known segment. */
export function protectedResourceMetadataUrl(resourceUrl: string): string {
  const url = new URL(resourceUrl);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const maxBodyBytes = deps.maxBodyBytes ?? 1024 * 1024;

  const metadata = {
    resource: deps.resourceUrl,
    authorization_servers: deps.authorizationServers,
    scopes_supported: deps.scopesSupported,
    bearer_methods_supported: ['header'],
    resource_name: 'Bulkhead',
  };
  const resourcePath = new URL(deps.resourceUrl).pathname;
  app.get(
    ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${resourcePath}`],
    (_req, res) => {
      res.json(metadata);
    },
  );
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  const mcp = createMcpEndpoint({
    factory: (ctx) => {
      const principal = ctx.authInfo?.extra?.principal as Principal | undefined;
      if (!principal) throw new Error('unauthenticated request reached the MCP handler');
      return createRouterServer(principal, deps);
    },
    sessions: deps.sessions,
    maxBodyBytes,
    logger: deps.logger,
  });
  deps.toolChanges?.subscribe(() => mcp.notify.toolsChanged());
  const handleMcp = toNodeHandler(mcp, {
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => deps.logger.error({ err: error }, 'mcp adapter error'),
  });

  app.all(
    resourcePath,
    originGuard(deps.originPolicy ?? defaultOriginPolicy(deps.resourceUrl), deps.logger),
    bearerAuth({
      verify: deps.verify,
      resourceMetadataUrl: protectedResourceMetadataUrl(deps.resourceUrl),
      scopesSupported: deps.scopesSupported,
      logger: deps.logger,
    }),
    stepUpChallenge({
      tenants: deps.tenants,
      surface: deps.surface,
      resourceMetadataUrl: protectedResourceMetadataUrl(deps.resourceUrl),
      maxBodyBytes,
      logger: deps.logger,
    }),
    // The step-up check parsed the body (JSON only); hand it on so it is not read twice.
    (req: AuthenticatedRequest, res: Response) => handleMcp(req, res, req.body as unknown),
  );

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: error }, 'unhandled router error');
    if (!res.headersSent) res.status(500).json({ error: 'internal_error' });
  });
  return app;
}
