// The embedded development identity provider: oidc-provider (a certified OpenID Provider) configured
// as the authorization server of Bulkhead's MCP endpoint, for the one-command demo, tests and the
// token-minting CLI. Production deployments bring their own IdP (docs/architecture.md, "Processes").
//
// Storage is in memory (dev/idp/memory-store.ts): development only. Clients, grants and tokens
// vanish on restart and are not shared between processes.
//
// Token shape (observed with oidc-provider 9.13.3, see test/integration/dev-idp.test.ts): access
// tokens are ES256 JWTs with header `typ: at+jwt` and claims iss, aud (the resource URL), exp, iat,
// jti, client_id, scope, sub, plus `tenant` (and `roles` for users) from `extraTokenClaims`.
// For the client-credentials grant oidc-provider sets `sub` to the client id, as RFC 9068 section
// 2.2 asks for grants without a resource owner. So `sub` is always present, and a token carries no
// user exactly when `sub === client_id` (an agent acting alone); the router must test that rather
// than the absence of `sub`.
//
// JWT access tokens cannot be introspected or revoked here: oidc-provider answers both endpoints
// with `unsupported_token_type` for them. Those endpoints serve refresh tokens; an access token's
// short lifetime is its revocation.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type pino from 'pino';
import Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { DevIdpOptions } from './dev-idp-options.ts';
import { TENANT_CLIENT_METADATA, parseDevIdpOptions } from './dev-idp-options.ts';
import { ROUTES, buildProviderConfiguration } from './provider-configuration.ts';
import { generateSigningJwk } from './signing-key.ts';
import { readAdvertisedScopes } from './advertised-scopes.ts';
import { memoryStore } from './memory-store.ts';

export type { DevIdpOptions, DevIdpResource, DevIdpUser } from './dev-idp-options.ts';
export { DEFAULT_ACCESS_TOKEN_TTL_SECONDS, TENANT_CLIENT_METADATA } from './dev-idp-options.ts';

export interface DevIdp {
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
  registrationEndpoint: string;
  /** Node request listener serving every IdP route at the root of the issuer. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  close: () => Promise<void>;
}

export interface StartedDevIdp extends DevIdp {
  /** The URL the server is bound to (equal to the issuer unless an explicit issuer was given). */
  url: string;
}

export type StartDevIdpOptions = Omit<DevIdpOptions, 'issuer'> & {
  /** Omit to derive it from host and bound port; required to be omitted with port 0. */
  issuer?: string;
  /** Loopback by default: the IdP is a development tool and has no business on other interfaces. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
};

/** The routes where a client registers or asks for scopes: each reads the resources' scopes first. */
const SCOPED_ROUTES = [ROUTES.registration, ROUTES.authorization, ROUTES.token];

export async function createDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const parsed = parseDevIdpOptions(options);
  const { issuer, logger } = parsed;
  // oidc-provider takes its scopes once, when a Provider is built: the ones a registration may
  // name, and those a client registered without are refused (invalid_scope). When a resource's
  // advertised scopes change, the IdP builds a new Provider with the same keys and storage.
  const keys = {
    signingJwk: await generateSigningJwk(),
    cookieKeys: [randomBytes(32).toString('base64url')],
    adapter: memoryStore(),
  };
  const build = (resourceScopes: Map<string, string[]>) => {
    const provider = new Provider(
      issuer,
      buildProviderConfiguration({ options: parsed, resourceScopes, ...keys }),
    );
    logProviderEvents(provider, logger);
    return { scopes: JSON.stringify([...resourceScopes]), callback: provider.callback() };
  };
  const configured = () => new Map(parsed.resources.map((r) => [r.url, r.scopes]));
  let active = build(configured());
  const read = parsed.resources.filter((r) => r.readMetadata);
  async function refresh(): Promise<void> {
    const scopes = configured();
    const advertised = await Promise.all(read.map((r) => readAdvertisedScopes(r.url, logger, r.metadataUrl)));
    read.forEach((r, i) => scopes.set(r.url, [...new Set([...r.scopes, ...(advertised[i] ?? [])])]));
    if (JSON.stringify([...scopes]) === active.scopes) return;
    active = build(scopes);
    logger.info({ scopes: Object.fromEntries(scopes) }, 'dev IdP: the resources advertise other scopes');
  }
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', issuer).pathname;
    if (read.length > 0 && SCOPED_ROUTES.some((route) => path === route || path.startsWith(`${route}/`)))
      await refresh();
    await active.callback(req, res);
  }
  return {
    issuer,
    jwksUri: `${issuer}${ROUTES.jwks}`,
    tokenEndpoint: `${issuer}${ROUTES.token}`,
    registrationEndpoint: `${issuer}${ROUTES.registration}`,
    // Koa's request handler settles every request itself (errors become responses); a failure to
    // build a Provider is the one thing left, answered 500 and logged.
    handler: (req, res) =>
      void handle(req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'dev IdP internal error');
        if (!res.headersSent) res.writeHead(500).end();
      }),
    // The provider holds no sockets or timers of its own; the server that mounts the handler does.
    close: () => Promise.resolve(),
  };
}

export async function startDevIdp(options: StartDevIdpOptions): Promise<StartedDevIdp> {
  const { host = '127.0.0.1', port, issuer, ...rest } = options;
  if (port === 0 && issuer !== undefined) {
    throw new Error('dev IdP: an explicit issuer cannot be combined with port 0 (the port is not known yet)');
  }
  if (!isLoopbackHost(host)) {
    options.logger.warn(
      { host },
      'dev IdP listening beyond loopback: it is a development tool, not a production IdP',
    );
  }

  // The issuer is part of the provider's configuration, but with port 0 it is only known once the
  // socket is bound: listen first, then create the provider and hand requests to it.
  const target: { handler?: DevIdp['handler'] } = {};
  const server = createServer((req, res) => {
    if (target.handler) return target.handler(req, res);
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const url = `http://${formatHost(host)}:${(server.address() as AddressInfo).port}`;
  let idp: DevIdp;
  try {
    idp = await createDevIdp({ ...rest, issuer: issuer ?? url });
  } catch (error) {
    server.close();
    throw error;
  }
  target.handler = idp.handler;
  options.logger.info({ issuer: idp.issuer, url }, 'dev IdP listening');

  return {
    ...idp,
    url,
    close: async () => {
      await idp.close();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from fetch clients would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}

function logProviderEvents(provider: Provider, logger: pino.Logger): void {
  const refused = (event: string) => (ctx: KoaContextWithOIDC, err: Error) => {
    // Refusals are expected traffic (bad secrets, unknown resources), not faults of the IdP.
    // `error_detail` is what oidc-provider keeps from the client (for invalid_grant, say): log it here.
    const { error, error_description: description, error_detail: detail } = err as OAuthError;
    const clientId = ctx.oidc?.client?.clientId;
    logger.info({ event, path: ctx.path, error, description, detail, clientId }, 'dev IdP refused');
  };
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    logger.error({ err, path: ctx.path }, 'dev IdP internal error');
  });
  provider.on('grant.error', refused('grant.error'));
  provider.on('registration_create.error', refused('registration_create.error'));
  provider.on('introspection.error', refused('introspection.error'));
  provider.on('revocation.error', refused('revocation.error'));
  provider.on('authorization.error', refused('authorization.error'));
  provider.on('registration_create.success', (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.entities.Client;
    logger.info(
      { clientId: client?.clientId, tenant: client?.metadata()[TENANT_CLIENT_METADATA] },
      'dev IdP registered a client',
    );
  });
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    logger.debug(
      { clientId: ctx.oidc.client?.clientId, grantType: ctx.oidc.params?.grant_type },
      'dev IdP issued a token',
    );
  });
}

type OAuthError = Error & { error?: string; error_description?: string; error_detail?: string };

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
