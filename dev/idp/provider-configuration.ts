// The oidc-provider configuration of the development IdP. Everything the router later relies on
// (audience, `typ: at+jwt`, ES256, `tenant` and `roles` claims, short lifetimes) is decided here, by
// oidc-provider's own hooks: this module never signs a token itself.
import type {
  AccessToken,
  Account,
  AdapterFactory,
  Client,
  ClientCredentials,
  ClientMetadata,
  Configuration,
  JWK,
  KoaContextWithOIDC,
  ResourceServer,
} from 'oidc-provider';
import { errors, interactionPolicy } from 'oidc-provider';

import { TenantIdSchema } from '../../kernel/tenant/tenant-spec.ts';
import type { ParsedDevIdpOptions } from './dev-idp-options.ts';
import { TENANT_CLIENT_METADATA } from './dev-idp-options.ts';
import { SIGNING_ALG } from './signing-key.ts';
import { checkRegistration, isLoopbackHostname, isRegistrationRequest } from './client-policy.ts';
import { metadataDocumentFeature, metadataFetch } from './metadata-documents.ts';

/** oidc-provider's routes, pinned so the URLs we hand out cannot drift from what it serves. */
export const ROUTES = {
  authorization: '/auth',
  token: '/token',
  jwks: '/jwks',
  registration: '/reg',
  introspection: '/token/introspection',
  revocation: '/token/revocation',
  userinfo: '/me',
  end_session: '/session/end',
} as const;

/** The OpenID scope that asks for the `roles` claim in the ID token. */
export const ROLES_SCOPE = 'roles';

const AUTHORIZATION_CODE_TTL_SECONDS = 60;
const REFRESH_TOKEN_TTL_SECONDS = 24 * 60 * 60;
const INTERACTION_TTL_SECONDS = 10 * 60;
const SESSION_TTL_SECONDS = 8 * 60 * 60;
const GRANT_TTL_SECONDS = 24 * 60 * 60;

export interface ProviderConfigurationOptions {
  options: ParsedDevIdpOptions;
  signingJwk: JWK;
  /** Each resource's scopes now: configured, plus advertised where it is read (dev-idp.ts). */
  resourceScopes: ReadonlyMap<string, readonly string[]>;
  /** Kept by the IdP across the Provider instances it builds, like the signing key and storage. */
  cookieKeys: string[];
  adapter: AdapterFactory;
}

export function buildProviderConfiguration({
  options,
  signingJwk,
  resourceScopes: scopesOf,
  cookieKeys,
  adapter,
}: ProviderConfigurationOptions): Configuration {
  const resourcesByUrl = new Map(
    options.resources.map((resource) => [
      resource.url,
      { ...resource, scopes: [...(scopesOf.get(resource.url) ?? resource.scopes)] },
    ]),
  );
  const usersById = new Map(options.users.map((user) => [user.id, user]));
  const onlyResource = options.resources.length === 1 ? options.resources[0] : undefined;
  const defaultTtl = options.defaultAccessTokenTtlSeconds;

  // The resources' scopes are declared as provider scopes too: only then does oidc-provider accept
  // them in a client's registered `scope` and refuse (`invalid_scope`) a token request for a scope
  // the client was not registered with. Resource-only scopes would be silently granted instead.
  const resourceScopes = [...resourcesByUrl.values()].flatMap((resource) => resource.scopes);
  const scopes = [...new Set(['openid', 'offline_access', ROLES_SCOPE, ...resourceScopes])];

  function getResourceServerInfo(_ctx: KoaContextWithOIDC, indicator: string): ResourceServer {
    // Exact string match: the audience the router checks is this very string (RFC 8707 / 9068).
    const resource = resourcesByUrl.get(indicator);
    if (!resource)
      throw new errors.InvalidTarget('resource indicator is unknown to this authorization server');
    return {
      audience: resource.url,
      scope: resource.scopes.join(' '),
      accessTokenTTL: resource.accessTokenTtlSeconds ?? defaultTtl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    };
  }

  function accessTokenTtl(_ctx: KoaContextWithOIDC, token: AccessToken | ClientCredentials): number {
    return token.resourceServer?.accessTokenTTL ?? defaultTtl;
  }

  async function tenantOfClient(
    ctx: KoaContextWithOIDC,
    clientId: string | undefined,
  ): Promise<string | undefined> {
    if (clientId === undefined) return undefined;
    const client: Client | undefined =
      ctx.oidc.client?.clientId === clientId
        ? ctx.oidc.client
        : await ctx.oidc.provider.Client.find(clientId);
    const tenant = client?.metadata()[TENANT_CLIENT_METADATA];
    return typeof tenant === 'string' ? tenant : undefined;
  }

  async function extraTokenClaims(
    ctx: KoaContextWithOIDC,
    token: AccessToken | ClientCredentials,
  ): Promise<Record<string, unknown> | undefined> {
    const clientTenant = await tenantOfClient(ctx, token.clientId);
    if (token.kind === 'ClientCredentials') {
      // No user behind this token: the tenant comes from the client's registration alone.
      return clientTenant === undefined ? undefined : { tenant: clientTenant };
    }
    const user = usersById.get(token.accountId);
    if (!user) throw new errors.InvalidGrant('the account of this grant is unknown');
    // A client bound to one tenant must never obtain a token for a user of another tenant: the
    // router resolves the tenant from this token alone.
    if (clientTenant !== undefined && clientTenant !== user.tenant) {
      throw new errors.InvalidGrant('the user belongs to a different tenant than the client');
    }
    return { ...tenantClaim(user.tenant), roles: [...user.roles] };
  }

  function findAccount(_ctx: KoaContextWithOIDC, sub: string): Account | undefined {
    const user = usersById.get(sub);
    if (!user) return undefined;
    return {
      accountId: user.id,
      claims: () => ({ sub: user.id, ...tenantClaim(user.tenant), roles: [...user.roles] }),
    };
  }

  function validateClientMetadata(
    ctx: KoaContextWithOIDC | undefined,
    key: string,
    value: unknown,
    metadata: ClientMetadata,
  ): void {
    if (key !== TENANT_CLIENT_METADATA) return;
    // oidc-provider runs this validator once per client (one extra property), with the defaults
    // applied: the place where a registration request's metadata and its bearer token meet.
    if (isRegistrationRequest(ctx)) checkRegistration(ctx, metadata, options.initialAccessToken);
    if (value === undefined) {
      // An agent acting alone has no user to take a tenant from, so its registration must carry one.
      if (metadata.grant_types?.includes('client_credentials')) {
        throw new errors.InvalidClientMetadata(
          `${TENANT_CLIENT_METADATA} is required for client_credentials clients`,
        );
      }
      return;
    }
    if (typeof value !== 'string' || !TenantIdSchema.safeParse(value).success) {
      throw new errors.InvalidClientMetadata(
        `${TENANT_CLIENT_METADATA} must be a tenant id: 3-32 characters of a-z, 0-9 and "-", starting with a letter`,
      );
    }
  }

  return {
    jwks: { keys: [signingJwk] },
    // The key set is ES256 only; oidc-provider's RS256 default for ID tokens would fail every
    // token request that produces one (seen with oidc-provider 9).
    clientDefaults: { id_token_signed_response_alg: SIGNING_ALG },
    // Cookie signing keys for the interaction pages; per process, like the signing key.
    cookies: { keys: cookieKeys },
    adapter,
    routes: ROUTES,
    scopes,
    // The `roles` scope puts the user's roles into the ID token: a web front end that signs people
    // in (the console) reads them there. With oidc-provider's default (conformIdTokenClaims) they
    // would go to the userinfo endpoint only, whenever the access token is not for a resource. A
    // tenant's user's `tenant` comes with them: their tenant's roles share the claim, and the console
    // refuses a user of a tenant whatever those roles are called.
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      [ROLES_SCOPE]: ['roles', 'tenant'],
    },
    conformIdTokenClaims: false,
    findAccount,
    extraTokenClaims,
    extraClientMetadata: { properties: [TENANT_CLIENT_METADATA], validator: validateClientMetadata },
    // OAuth 2.1: the authorization code flow only (no implicit or hybrid response types), and
    // always with PKCE; oidc-provider accepts only S256 as the challenge method.
    responseTypes: ['code'],
    pkce: { required: () => true },
    interactions: { policy: loginPolicy() },
    // MCP clients seldom ask for `offline_access`; a client registered for the refresh_token grant
    // gets a refresh token from the code exchange anyway, rotated on every use (reuse revokes).
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') && source.kind === 'AuthorizationCode',
    rotateRefreshToken: true,
    // Browser-based MCP clients (the Inspector) call the token endpoint cross-origin from loopback.
    clientBasedCORS: (_ctx, origin) => isLoopbackOrigin(origin),
    fetch: metadataFetch(options.localMetadataOrigins),
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      // Open at the endpoint; `checkRegistration` decides: the initial access token for operators,
      // loopback user clients for everyone else (dev/idp/client-policy.ts).
      registration: {
        enabled: true,
        initialAccessToken: false,
        // Registration management is off, so a registration access token would be useless.
        issueRegistrationAccessToken: false,
      },
      clientIdMetadataDocument: metadataDocumentFeature(),
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo,
        // With a single MCP server configured, a request without `resource` is meant for it.
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? onlyResource?.url,
        useGrantedResource: () => true,
      },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_SECONDS,
      IdToken: defaultTtl,
      // Rotation must not extend a refresh token's life: a rotated one keeps the remaining TTL.
      RefreshToken: (ctx) => ctx.oidc.entities.RotatedRefreshToken?.remainingTTL ?? REFRESH_TOKEN_TTL_SECONDS,
      Interaction: INTERACTION_TTL_SECONDS,
      Session: SESSION_TTL_SECONDS,
      Grant: GRANT_TTL_SECONDS,
    },
  };
}

/**
 * The development login page accepts any name. Without this check a name that `findAccount` does not
 * know leaves a session pointing at no account, which oidc-provider 9.13.3 answers with an internal
 * error (a TypeError in its consent checks); with it, the login page is simply shown again.
 */
function loginPolicy(): interactionPolicy.DefaultPolicy {
  const policy = interactionPolicy.base();
  policy
    .get('login')
    ?.checks.add(
      new interactionPolicy.Check(
        'unknown_account',
        'the signed-in account is not known to this IdP',
        (ctx) =>
          ctx.oidc.session?.accountId !== undefined && ctx.oidc.account === undefined
            ? interactionPolicy.Check.REQUEST_PROMPT
            : interactionPolicy.Check.NO_NEED_TO_PROMPT,
      ),
    );
  return policy;
}

/** A user of no tenant (an operator or an auditor of the installation) gets no `tenant` claim. */
function tenantClaim(tenant: string | undefined): { tenant?: string } {
  return tenant === undefined ? {} : { tenant };
}

function isLoopbackOrigin(origin: string): boolean {
  const url = URL.parse(origin);
  return url !== null && isLoopbackHostname(url.hostname);
}
