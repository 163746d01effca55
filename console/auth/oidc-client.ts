// The console as an OpenID Connect relying party: the authorization code flow with PKCE (S256),
// `state` and `nonce`, a confidential client (client_secret_basic) whose secret stays in this process.
// The ID token is verified here (issuer, audience, lifetime, nonce, an asymmetric algorithm from the
// provider's JWKS); the roles come from its claims only.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export const CONSOLE_ROLES = ['operator', 'auditor'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** Only asymmetric signatures: a shared-secret (HS*) ID token would be forgeable by any client of the IdP. */
const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];

const MetadataSchema = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  /** OpenID Connect RP-Initiated Logout 1.0: where a person signs out at the provider. */
  end_session_endpoint: z.url().optional(),
});

export interface OidcClientOptions {
  issuer: string;
  /**
   * Where this process reaches the provider, when not at the issuer's origin (a container network
   * where the browser's issuer URL names the host's loopback): requests to the issuer's origin go
   * to this origin instead. Only the transport changes: the issuer checked is still `issuer`.
   */
  providerUrl?: string | undefined;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  rolesClaim: string;
  /**
   * The claim that names a user's tenant (the router's BULKHEAD_TENANT_CLAIM), `tenant` by default.
   * An ID token carrying it is a tenant's user's, whatever its roles say: the console's roles are
   * for the installation's own people, and a tenant may name its own roles `operator` or `auditor`.
   */
  tenantClaim?: string | undefined;
}

/** What the browser's sign-in must bring back: sealed in that browser's cookie (pending-sign-in.ts). */
export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
}

export interface SignedInUser {
  sub: string;
  /** The highest console role the token grants (operator over auditor). */
  role: ConsoleRole;
}

export interface OidcClient {
  begin(): { pending: PendingSignIn; url: string };
  complete(pending: PendingSignIn, callback: URLSearchParams): Promise<SignedInUser>;
  /**
   * Where the browser goes after the console's own sign-out, to sign out at the provider too (its
   * `end_session_endpoint`, naming this client); undefined when the provider offers none.
   */
  endSessionUrl?: string | undefined;
}

const token = (): string => randomBytes(32).toString('base64url');

/** What an OAuth error code looks like (RFC 6749's are lower case words joined by `_`). */
const ERROR_CODE = /^[a-z_]{1,64}$/;

/**
 * The client secret from BULKHEAD_CONSOLE_CLIENT_SECRET or the file BULKHEAD_CONSOLE_CLIENT_SECRET_FILE
 * names: exactly one of the two, at least 16 characters.
 */
export async function readClientSecret(options: {
  clientSecret?: string | undefined;
  clientSecretFile?: string | undefined;
}): Promise<string> {
  const { clientSecret, clientSecretFile } = options;
  if (clientSecret !== undefined && clientSecretFile !== undefined)
    throw new BulkheadError(
      'invalid_config',
      'set BULKHEAD_CONSOLE_CLIENT_SECRET or BULKHEAD_CONSOLE_CLIENT_SECRET_FILE, not both',
    );
  if (clientSecret !== undefined) return clientSecret;
  if (clientSecretFile === undefined)
    throw new BulkheadError(
      'invalid_config',
      "the console's client secret is missing: set BULKHEAD_CONSOLE_CLIENT_SECRET_FILE (or BULKHEAD_CONSOLE_CLIENT_SECRET)",
    );
  const text = await readFile(clientSecretFile, 'utf8').catch((cause: NodeJS.ErrnoException) => {
    throw new BulkheadError(
      'invalid_config',
      `BULKHEAD_CONSOLE_CLIENT_SECRET_FILE: cannot read ${clientSecretFile} (${cause.code ?? cause.message})`,
      { cause },
    );
  });
  const secret = text.replace(/\r?\n$/, '');
  if (secret.length < 16)
    throw new BulkheadError(
      'invalid_config',
      `BULKHEAD_CONSOLE_CLIENT_SECRET_FILE: the secret in ${clientSecretFile} must be at least 16 characters`,
    );
  return secret;
}

/** `url` with origin `from` replaced by `to`'s (a URL at another origin stays as it is). */
export function swapOrigin(url: string, from: string, to: string | undefined): string {
  if (to === undefined) return url;
  const target = new URL(url);
  if (target.origin !== new URL(from).origin) return url;
  const via = new URL(to);
  target.protocol = via.protocol;
  target.host = via.host;
  return target.href;
}

export async function discoverOidcClient(options: OidcClientOptions): Promise<OidcClient> {
  const { issuer, providerUrl } = options;
  // This process's own requests (discovery, the code exchange, the keys) go through the provider URL;
  // the browser's (the authorization endpoint) to the issuer's origin, which a provider that builds
  // its URLs from the request's host (oidc-provider, Keycloak) would otherwise name as the provider URL.
  const via = (url: string): string => swapOrigin(url, issuer, providerUrl);
  const browser = (url: string): string =>
    providerUrl === undefined ? url : swapOrigin(url, providerUrl, issuer);
  const url = via(`${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok)
    throw new BulkheadError(
      'invalid_config',
      `the OpenID provider at ${url} answered HTTP ${response.status}`,
    );
  const metadata = MetadataSchema.parse(await response.json());
  if (metadata.issuer !== options.issuer)
    throw new BulkheadError(
      'invalid_config',
      `the provider calls itself ${metadata.issuer}, not ${options.issuer}`,
    );
  const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(via(metadata.jwks_uri)));
  const tokenEndpoint = via(metadata.token_endpoint);
  const authorizationEndpoint = browser(metadata.authorization_endpoint);
  // Without post_logout_redirect_uri, which the provider would refuse unless registered for the
  // client: the provider's own page ends the sign-out. Without id_token_hint too (no ID token is
  // kept), so the provider is to ask the person to confirm (RP-Initiated Logout 1.0; oidc-provider
  // does), and a link to it from anywhere else signs nobody out unasked.
  let endSessionUrl: string | undefined;
  if (metadata.end_session_endpoint !== undefined) {
    const end = new URL(browser(metadata.end_session_endpoint));
    end.searchParams.set('client_id', options.clientId);
    endSessionUrl = end.href;
  }

  return {
    endSessionUrl,
    begin() {
      const pending = { state: token(), nonce: token(), verifier: token() };
      const authorize = new URL(authorizationEndpoint);
      authorize.search = new URLSearchParams({
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        response_type: 'code',
        scope: options.scope,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      return { pending, url: authorize.href };
    },

    async complete(pending, callback) {
      const error = callback.get('error');
      // Named only when it is an error code (RFC 6749: access_denied, login_required...): anyone can
      // send a browser here with any text as `error`, which the console's own page would show.
      if (error)
        throw new BulkheadError(
          'sign_in_failed',
          `the provider refused the sign-in${ERROR_CODE.test(error) ? `: ${error}` : ''}`,
        );
      if (callback.get('state') !== pending.state)
        throw new BulkheadError('sign_in_failed', 'the sign-in answer does not match the request (state)');
      const iss = callback.get('iss');
      if (iss !== null && iss !== options.issuer)
        throw new BulkheadError('sign_in_failed', 'the sign-in answer came from another issuer (RFC 9207)');
      const code = callback.get('code');
      if (!code) throw new BulkheadError('sign_in_failed', 'the sign-in answer carries no code');
      const basic = Buffer.from(
        `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
      ).toString('base64');
      const answer = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: options.redirectUri,
          code_verifier: pending.verifier,
        }),
      });
      const body = (await answer.json().catch(() => ({}))) as Record<string, unknown>;
      if (!answer.ok || typeof body['id_token'] !== 'string')
        throw new BulkheadError(
          'sign_in_failed',
          `the code exchange failed (HTTP ${answer.status}${typeof body['error'] === 'string' ? `: ${body['error']}` : ''})`,
        );
      // The access and refresh tokens are dropped here: the console acts with its own credentials
      // (Redis, the supervisor's queue), never on the user's behalf elsewhere.
      const { payload } = await jwtVerify(body['id_token'], keys, {
        issuer: options.issuer,
        audience: options.clientId,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 5,
      }).catch((cause: unknown) => {
        throw new BulkheadError('sign_in_failed', `the ID token was refused: ${(cause as Error).message}`, {
          cause,
        });
      });
      if (payload['nonce'] !== pending.nonce)
        throw new BulkheadError('sign_in_failed', 'the ID token does not carry this sign-in (nonce)');
      // The same IdP signs tenants' users in, with their tenant's roles in the same claim: a tenant's
      // role that happens to be called `auditor` must not open every tenant's trail.
      const tenant = payload[options.tenantClaim ?? 'tenant'];
      if (tenant !== undefined)
        throw new BulkheadError(
          'role_required',
          `signed in as ${payload.sub ?? '?'}, a user of a tenant: the console is for the installation's operators and auditors`,
        );
      const claimed = payload[options.rolesClaim];
      const roles = Array.isArray(claimed) ? claimed.filter((r): r is string => typeof r === 'string') : [];
      const role = CONSOLE_ROLES.find((r) => roles.includes(r));
      if (!role)
        throw new BulkheadError(
          'role_required',
          `signed in as ${payload.sub ?? '?'}, who has neither the operator nor the auditor role`,
        );
      return { sub: payload.sub as string, role };
    },
  };
}
