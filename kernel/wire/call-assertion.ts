// The router's proof of origin on every call into a tenant container (docs/architecture.md,
// "Trust boundaries").
// The agent's access token never enters a container: the router signs a short-lived assertion that
// carries the verified call context and a digest of the exact request body, and the container
// refuses any request without a valid one. Ed25519 keeps signing and verifying well under 1 ms.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const CALL_ASSERTION_HEADER = 'bulkhead-call-assertion';
export const CALL_ASSERTION_ISSUER = 'bulkhead-router';
export const CALL_ASSERTION_ALG = 'EdDSA';
export const CALL_ASSERTION_TTL_SECONDS = 30;

export function callAssertionAudience(tenantId: string): string {
  return `bulkhead-tenant:${tenantId}`;
}

/** The verified call context the container receives instead of a token. */
export const CallContextSchema = z.strictObject({
  tenant: z.string(),
  /** The human user (`sub`), or null for an agent acting alone (client credentials). */
  user: z.string().nullable(),
  agent: z.string(),
  scopes: z.array(z.string()),
  trace: z.string().optional(),
  /** The packs this caller may reach (those of the tenant tools it may call); absent: the router's own checks. */
  packs: z.array(z.string()).optional(),
});
export type CallContext = z.infer<typeof CallContextSchema>;

export const CallAssertionClaimsSchema = CallContextSchema.extend({
  iss: z.literal(CALL_ASSERTION_ISSUER),
  aud: z.string(),
  iat: z.number(),
  exp: z.number(),
  jti: z.string(),
  /** base64url SHA-256 of the HTTP request body: an assertion cannot be replayed onto another call. */
  bh: z.string(),
});
export type CallAssertionClaims = z.infer<typeof CallAssertionClaimsSchema>;

export function bodyDigest(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url');
}
