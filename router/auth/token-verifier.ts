// Verifies bearer access tokens as an OAuth 2.1 resource server (RFC 9068 JWT profile): the issuer
// must be one the router trusts (checked before any key is fetched), signature by an allowlisted
// algorithm from that issuer's JWKS, `typ: at+jwt`, audience equal to this server's resource URL
// (RFC 8707), `exp`/`nbf`/`iat` with a small tolerance, and the issuer must be bound to the tenant
// the token names, and the token issued after that tenant's record was created. Tenant, user, agent
// and roles come from the verified claims only.
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TENANT_ID_PATTERN, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { TenantLookup } from '../tenancy/tenant-directory.ts';
import type { AuthFailureReason } from '../metrics/router-metrics.ts';
import type { Principal } from '../identity/principal.ts';
import { bindingFor, issuerKeySets, type IssuerKeys, type TrustedIssuerInput } from './trusted-issuers.ts';
import { createVerifiedTokenCache } from './verified-token-cache.ts';

/** The wait a client is told when an issuer's keys could not be read (jose fetches them again). */
const ISSUER_RETRY_AFTER_MS = 5_000;

/**
 * Whether jose failed to read an issuer's key set rather than refused the token: its timeout, a set
 * that is no JWKS, and the plain JOSEError, which jose 6 throws only for a JWKS answer that is not
 * 200 or not JSON (jwks/remote.js). A connection refused is fetch's own error, no JOSEError at all.
 */
function keysUnreadable(error: errors.JOSEError): boolean {
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    error.code === errors.JOSEError.code
  );
}

export interface TokenVerifierOptions {
  /** Trusted issuers; the first is the installation's default (for tenants that bind none). */
  issuers: TrustedIssuerInput[];
  audience: string;
  algorithms: string[];
  clockToleranceSeconds: number;
  /** Minimum time between two JWKS fetches caused by unknown `kid`s (jose's cooldown; default VERIFIER_DEFAULTS). */
  jwksCooldownSeconds?: number;
  /** Upper bound on a token's age (`iat`); also makes an `iat` in the future a failure. */
  maxTokenAgeSeconds?: number;
  /** Longest a verified token's signature check is remembered (default VERIFIER_DEFAULTS; 0: never). */
  cacheSeconds?: number;
  tenants: TenantLookup;
}

/** Defaults of the optional knobs (router/config.ts declares them with these). */
export const VERIFIER_DEFAULTS = {
  jwksCooldownSeconds: 30,
  maxTokenAgeSeconds: 24 * 60 * 60,
  /** How long a verified token is remembered at most (verified-token-cache.ts); 0: never. */
  cacheSeconds: 60,
  cacheEntries: 10_000,
} as const;

/** The token is refused (RFC 6750 `invalid_token`): the caller gets 401 with a challenge. */
export class InvalidTokenError extends BulkheadError<'invalid_token'> {
  /** The refusal's class, from a fixed set (the metrics' label; the message stays in the log). */
  readonly reason: AuthFailureReason;
  constructor(message: string, reason: AuthFailureReason) {
    super('invalid_token', message);
    this.reason = reason;
  }
}

/** A verified token: who is calling, and the tenant record read for the issuer binding (read once per request). */
export interface VerifiedToken {
  principal: Principal;
  tenant: TenantRecord;
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

/** Header parameters that name a key to verify with: an attacker controls them, so none is used. */
const KEY_CARRYING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

/** `scope` (RFC 9068, space-separated), else `scp` (Entra: space-separated; Okta: an array). */
function scopesOf(payload: JWTPayload): string[] {
  const value = typeof payload.scope === 'string' ? payload.scope : payload['scp'];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  return [];
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * An identity claim (`sub`, the client's): absent, or a non-empty string. Any other value refuses the
 * token: read as absent, a numeric `sub` made a user's token an agent acting alone (its roles
 * dropped, the agents-alone tools opened) and a numeric `client_id` gave way to `azp`.
 */
function identityClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  if (value === undefined || (typeof value === 'string' && value.length > 0)) return value;
  throw new InvalidTokenError(`token "${name}" claim is not a non-empty string`, 'claims');
}

/** Roles as a JSON array of strings, or one space-separated string (both seen in the field). */
function rolesOf(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === 'string');
  return [];
}

/** Actors a delegation chain may name (deeper chains are refused). */
const MAX_ACTORS = 8;

/**
 * RFC 8693 section 4.1: `act` nests the prior actors; the outermost is the current one. Each must be
 * an object naming its actor in `sub`, and the chain at most MAX_ACTORS long: a chain the router
 * could log only in part (an actor left out, the earliest cut off) refuses the token.
 */
function actorsOf(payload: JWTPayload): string[] {
  const actors: string[] = [];
  let act: unknown = payload['act'];
  while (act !== undefined) {
    const actor = typeof act === 'object' && act !== null && !Array.isArray(act) ? act : {};
    const sub = (actor as Record<string, unknown>)['sub'];
    if (typeof sub !== 'string' || sub.length === 0)
      throw new InvalidTokenError('token "act" claim names an actor without a "sub"', 'claims');
    if (actors.length === MAX_ACTORS)
      throw new InvalidTokenError(`token "act" claim nests more than ${MAX_ACTORS} actors`, 'claims');
    actors.push(sub);
    act = (actor as Record<string, unknown>)['act'];
  }
  return actors;
}

/** `application/at+jwt` and `at+jwt` are the same media type (RFC 7515 section 4.1.9). */
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * No human user behind the token: RFC 9068 and oidc-provider set `sub` to the client itself for
 * client credentials; Auth0 sets `sub` to `<client>@clients` and `gty: client-credentials`; Entra
 * marks app-only tokens `idtyp: app`. Anything else with a `sub` is a user.
 */
function isAgentAlone(payload: JWTPayload, agent: string, sub: string | undefined): boolean {
  return (
    sub === undefined ||
    sub === agent ||
    sub === `${agent}@clients` ||
    payload['gty'] === 'client-credentials' ||
    payload['idtyp'] === 'app'
  );
}

/**
 * A token issued before the tenant's record was created was issued for an earlier tenant of the same
 * id, since offboarded: its roles and scopes were that tenant's, and a tenant onboarded again under
 * the id (binding the same issuer, whose users may bear the same names) does not inherit them for
 * the token's lifetime. `iat` has whole seconds, and the issuer's clock may be behind the one that
 * stamped `createdAt` by the clock tolerance, as for `exp` and `nbf`.
 */
function issuedBeforeTenant(payload: JWTPayload, tenant: TenantRecord, toleranceSeconds: number): boolean {
  const createdSeconds = Math.floor(Date.parse(tenant.createdAt) / 1000);
  return typeof payload.iat === 'number' && payload.iat < createdSeconds - toleranceSeconds;
}

function unverifiedIssuer(token: string): string {
  try {
    const header = decodeProtectedHeader(token);
    const named = KEY_CARRYING_HEADERS.filter((name) => header[name] !== undefined);
    if (named.length > 0)
      throw new InvalidTokenError(`token header carries ${named.join(', ')}: refused`, 'malformed');
    const iss = decodeJwt(token).iss;
    if (typeof iss !== 'string') throw new InvalidTokenError('token names no issuer', 'malformed');
    return iss;
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    throw new InvalidTokenError('token is not a well-formed JWT', 'malformed');
  }
}

/**
 * A JWS algorithm the verifier never accepts: `none`, or a symmetric one (HS*), which would let
 * anyone holding the (public) verification key sign tokens. The router's configuration refuses them
 * at start, naming the variable; the verifier refuses them again for embedders.
 */
export function isRefusedAlgorithm(alg: string): boolean {
  return alg === 'none' || alg.startsWith('HS');
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (options.algorithms.length === 0)
    throw new Error('token verifier needs an explicit algorithm allowlist');
  if (options.algorithms.some(isRefusedAlgorithm))
    throw new Error('token verifier accepts asymmetric algorithms only');
  const keySets = issuerKeySets(options.issuers, {
    cooldownSeconds: options.jwksCooldownSeconds ?? VERIFIER_DEFAULTS.jwksCooldownSeconds,
  });
  const defaultIssuer = [...keySets.keys()][0]!;

  const maxTokenAgeSeconds = options.maxTokenAgeSeconds ?? VERIFIER_DEFAULTS.maxTokenAgeSeconds;
  const cache = createVerifiedTokenCache({
    maxAgeMs: (options.cacheSeconds ?? VERIFIER_DEFAULTS.cacheSeconds) * 1000,
    maxEntries: VERIFIER_DEFAULTS.cacheEntries,
  });

  /** Signature and claims (cached per token until it expires: verified-token-cache.ts). */
  async function verifiedClaims(token: string): Promise<{ trusted: IssuerKeys; payload: JWTPayload }> {
    const hit = cache.get(token);
    const known = hit && keySets.get(hit.issuer);
    if (hit && known) return { trusted: known, payload: hit.payload };
    const trusted = keySets.get(unverifiedIssuer(token));
    if (!trusted) throw new InvalidTokenError('token issuer is not trusted', 'untrusted_issuer');
    const types = trusted.config.accessTokenTypes.map(normalizeTyp);
    try {
      const { payload, protectedHeader: header } = await jwtVerify(token, trusted.keys, {
        issuer: trusted.config.issuer,
        audience: options.audience,
        algorithms: options.algorithms,
        // One accepted type: jose checks it. Several (configured per issuer): checked just below.
        ...(types.length === 1 ? { typ: types[0] } : {}),
        clockTolerance: options.clockToleranceSeconds,
        maxTokenAge: maxTokenAgeSeconds,
        requiredClaims: ['exp', 'iat'],
      });
      if (typeof header.typ !== 'string' || !types.includes(normalizeTyp(header.typ))) {
        throw new InvalidTokenError(
          `token type ${JSON.stringify(header.typ ?? null)} is not accepted`,
          'rejected',
        );
      }
      cache.remember(token, { issuer: trusted.config.issuer, payload }, maxTokenAgeSeconds);
      return { trusted, payload };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      // The issuer's keys could not be read: an outage, not a bad token. Refused as invalid, a valid
      // token would make its client drop it and count against its address (auth-flood-guard.ts).
      if (!(error instanceof errors.JOSEError) || keysUnreadable(error))
        throw new BulkheadError(
          'issuer_unavailable',
          `the keys of issuer ${trusted.config.issuer} could not be read; retry later`,
          { retryAfterMs: ISSUER_RETRY_AFTER_MS },
        );
      throw new InvalidTokenError(
        `token rejected: ${error.code}`,
        error instanceof errors.JWTExpired ? 'expired' : 'rejected',
      );
    }
  }

  return async (token) => {
    const { trusted, payload } = await verifiedClaims(token);
    const tenantId = stringClaim(payload, trusted.config.tenantClaim);
    // `appid`: Entra's v1 access tokens name the client there.
    const agent =
      identityClaim(payload, 'client_id') ?? identityClaim(payload, 'azp') ?? identityClaim(payload, 'appid');
    if (!tenantId)
      throw new InvalidTokenError(`token has no "${trusted.config.tenantClaim}" claim`, 'claims');
    // No tenant has another id: nothing else is looked up in the registry or kept in the directory.
    if (!TENANT_ID_PATTERN.test(tenantId))
      throw new InvalidTokenError(`token "${trusted.config.tenantClaim}" claim is no tenant id`, 'claims');
    if (!agent) throw new InvalidTokenError('token names no client (client_id, azp or appid)', 'claims');
    const sub = identityClaim(payload, 'sub');
    const actors = actorsOf(payload);

    // Which issuer may speak for which tenant is the tenant's business: a token of tenant A's issuer
    // that names tenant B is refused here, before any tool is considered.
    const tenant = await options.tenants.get(tenantId);
    if (!tenant) throw new InvalidTokenError('token issuer may not speak for this tenant', 'tenant_binding');
    const binding = bindingFor({ tenantIssuers: tenant.issuers, issuer: trusted.config, defaultIssuer });
    if (!binding) throw new InvalidTokenError('token issuer may not speak for this tenant', 'tenant_binding');
    if (stringClaim(payload, binding.tenantClaim) !== tenantId) {
      throw new InvalidTokenError(
        `token "${binding.tenantClaim}" claim does not name this tenant`,
        'tenant_binding',
      );
    }
    if (issuedBeforeTenant(payload, tenant, options.clockToleranceSeconds))
      throw new InvalidTokenError('token was issued before this tenant was created', 'tenant_binding');

    const user = sub === undefined || isAgentAlone(payload, agent, sub) ? null : sub;
    const principal: Principal = {
      tenant: tenantId,
      user,
      agent,
      actors,
      scopes: scopesOf(payload),
      roles: user === null ? [] : rolesOf(payload, binding.rolesClaim),
      issuer: trusted.config.issuer,
      tokenId: stringClaim(payload, 'jti'),
      // When this router stops accepting the token (jose refuses it past iat + maxTokenAge, both
      // claims required): what a listen stream and the flood guard's memory of it last.
      expiresAt: Math.min(payload.exp ?? 0, (payload.iat ?? 0) + maxTokenAgeSeconds),
    };
    return { principal, tenant };
  };
}
