// Verifies bearer access tokens as an OAuth 2.1 resource server (RFC 9068 JWT profile): signature
// by an allowlisted algorithm from the issuer's JWKS, `typ: at+jwt`, issuer, audience equal to this
// server's resource URL (RFC 8707), expiry with a small tolerance. Tenant, user and agent come from
// the verified claims only.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from './principal.ts';

export interface TokenVerifierOptions {
  issuer: string;
  /** Defaults to the issuer's `/jwks` (what the embedded IdP serves); set it for other IdPs. */
  jwksUri?: string;
  audience: string;
  algorithms: string[];
  tenantClaim: string;
  clockToleranceSeconds: number;
}

export class InvalidTokenError extends Error {
  readonly code = 'invalid_token';
}

export type TokenVerifier = (token: string) => Promise<Principal>;

function scopesOf(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (options.algorithms.length === 0)
    throw new Error('token verifier needs an explicit algorithm allowlist');
  const jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/jwks`));
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.algorithms,
        typ: 'at+jwt',
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) throw new InvalidTokenError(`token rejected: ${error.code}`);
      throw error;
    }
    const tenant = stringClaim(payload, options.tenantClaim);
    const agent = stringClaim(payload, 'client_id') ?? stringClaim(payload, 'azp');
    if (!tenant) throw new InvalidTokenError(`token has no "${options.tenantClaim}" claim`);
    if (!agent) throw new InvalidTokenError('token names no client (client_id or azp)');
    const sub = stringClaim(payload, 'sub');
    return {
      tenant,
      // A client-credentials token has no user: no sub, or sub equal to the client itself.
      user: sub && sub !== agent ? sub : null,
      agent,
      scopes: scopesOf(payload),
      issuer: options.issuer,
      tokenId: stringClaim(payload, 'jti'),
      expiresAt: payload.exp ?? 0,
    };
  };
}
