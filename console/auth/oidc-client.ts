// The console as an OpenID Connect relying party: the authorization code flow with PKCE (S256),
// `state` and `nonce`, a confidential client (client_secret_basic) whose secret stays in this process.
// The ID token is verified here (issuer, audience, lifetime, nonce, an asymmetric algorithm from the
// provider's JWKS); the roles come from its claims only.
import { createHash, randomBytes } from 'node:crypto';
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
});

export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  rolesClaim: string;
}

/** What the browser's sign-in must bring back: kept server-side, keyed by a cookie. */
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
}

const token = (): string => randomBytes(32).toString('base64url');

export async function discoverOidcClient(options: OidcClientOptions): Promise<OidcClient> {
  const url = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
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
  const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(metadata.jwks_uri));

  return {
    begin() {
      const pending = { state: token(), nonce: token(), verifier: token() };
      const authorize = new URL(metadata.authorization_endpoint);
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
      if (error) throw new BulkheadError('sign_in_failed', `the provider refused the sign-in: ${error}`);
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
      const answer = await fetch(metadata.token_endpoint, {
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
