// Remembers which access tokens passed signature and claims verification, so an agent that sends
// the same token on every call costs one ECDSA verification per token, not one per request (it was
// the largest single cost of a shared-tool call in the router's CPU profile, docs/performance.md).
//
// What a hit skips: the signature, issuer, audience, `typ`, `nbf` and required-claims checks, which
// depend only on the token's bytes and the issuer's key; they held when the entry was made. What it
// never skips: expiry (an entry ends at the token's `exp` and at `iat` + the maximum token age,
// whichever is first, without the clock tolerance), and everything the verifier does after the
// signature (the tenant's issuer binding, read from the tenant record on every request). An entry
// also ends after `maxAgeMs` (at most the JWKS cache's age), so a key the issuer withdraws stops
// being honoured as soon as it would have without the cache. Only verified tokens enter; a refusal
// is never remembered. Keys are SHA-256 digests of the token: the cache holds no bearer token.
// Revocation: access tokens are self-contained JWTs and the router does no introspection, so a
// revoked token was honoured until its expiry before this cache as well.
import { hash } from 'node:crypto';
import type { JWTPayload } from 'jose';

export interface VerifiedTokenCacheOptions {
  /** Longest an entry lives, whatever the token's expiry. 0 turns the cache off. */
  maxAgeMs: number;
  /** Bound on entries: the oldest is dropped first. */
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  issuer: string;
  payload: JWTPayload;
  until: number;
}

export interface VerifiedClaims {
  issuer: string;
  payload: JWTPayload;
}

export interface VerifiedTokenCache {
  get(token: string): VerifiedClaims | undefined;
  /** `maxTokenAgeSeconds`: the verifier's bound on `iat`, which also ends the entry. */
  remember(token: string, verified: VerifiedClaims, maxTokenAgeSeconds: number): void;
  readonly size: number;
}

/**
 * SHA-256 of a bearer token, base64url: how the router's token maps key a token without holding it
 * (also auth-flood-guard.ts). The one-shot `hash`: no Hash object per request, about a third of
 * `createHash`'s cost for a token-sized input.
 */
export const tokenDigest = (token: string): string => hash('sha256', token, 'base64url');
const digest = tokenDigest;

export function createVerifiedTokenCache(options: VerifiedTokenCacheOptions): VerifiedTokenCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  return {
    get(token) {
      if (options.maxAgeMs <= 0) return undefined;
      const key = digest(token);
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (now() >= entry.until) {
        entries.delete(key);
        return undefined;
      }
      return { issuer: entry.issuer, payload: entry.payload };
    },
    remember(token, verified, maxTokenAgeSeconds) {
      if (options.maxAgeMs <= 0) return;
      const { exp, iat } = verified.payload;
      if (typeof exp !== 'number' || typeof iat !== 'number') return;
      const until = Math.min(exp * 1000, (iat + maxTokenAgeSeconds) * 1000, now() + options.maxAgeMs);
      if (until <= now()) return;
      if (entries.size >= options.maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(digest(token), { ...verified, until });
    },
    // eslint-disable-next-line no-restricted-syntax -- made once per cache, not per call
    get size() {
      return entries.size;
    },
  };
}
