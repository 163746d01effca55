// The development IdP's token-signing key: a fresh ES256 key pair per start, never written to disk.
// Tokens from a previous run stop verifying after a restart, which is what a development IdP wants.
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'oidc-provider';

export const SIGNING_ALG = 'ES256';

/** A private JWK in the shape oidc-provider's `jwks` configuration expects. */
export async function generateSigningJwk(): Promise<JWK> {
  // Extractable, because oidc-provider takes keys as JWKs and builds its own key objects from them.
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  // The thumbprint covers only public members, so resource servers see a stable, meaningful `kid`.
  const kid = await calculateJwkThumbprint(jwk);
  const { kty, crv, x, y, d } = jwk;
  return { kty, crv, x, y, d, kid, alg: SIGNING_ALG, use: 'sig' };
}
