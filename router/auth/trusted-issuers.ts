// The issuers the router trusts, from its own configuration: the only places it will ever fetch a
// JSON Web Key Set from. A tenant record's `issuers` bindings choose among them (which issuer may
// speak for that tenant, and which claim carries its roles); a binding that names an issuer the
// router does not trust is inert, so a registry entry alone can never make the router fetch keys
// from a new place.
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { IssuerBinding } from '../../kernel/tenant/tenant-spec.ts';

export const TrustedIssuerSchema = z.strictObject({
  issuer: z.url(),
  /** Defaults to the issuer's `/jwks` (what the embedded IdP serves); set it for other IdPs. */
  jwksUri: z.url().optional(),
  /** The claim naming the tenant in this issuer's tokens. */
  tenantClaim: z.string().min(1).default('tenant'),
  /** The claim carrying the user's roles, unless the tenant's binding names another. */
  rolesClaim: z.string().min(1).default('roles'),
  /**
   * Accepted JWT `typ` header values. RFC 9068's `at+jwt` only, by default: it keeps an ID token or
   * any other JWT of the issuer from passing as an access token. Some IdPs cannot emit it (Keycloak,
   * Entra: `JWT`); widening this is per issuer, and the audience check (= this resource) remains.
   */
  accessTokenTypes: z.array(z.string().min(1)).min(1).default(['at+jwt']),
});
export type TrustedIssuer = z.output<typeof TrustedIssuerSchema>;
export type TrustedIssuerInput = z.input<typeof TrustedIssuerSchema>;

export interface IssuerKeys {
  config: TrustedIssuer;
  keys: JWTVerifyGetKey;
}

export function jwksUriOf(issuer: TrustedIssuer): string {
  return issuer.jwksUri ?? `${issuer.issuer.replace(/\/$/, '')}/jwks`;
}

/**
 * One remote key set per trusted issuer. jose refetches on an unknown `kid` at most once per
 * cooldown and shares one in-flight fetch between concurrent callers, so a flood of tokens with
 * made-up `kid`s costs at most one JWKS request per cooldown window.
 */
export function issuerKeySets(
  issuers: readonly TrustedIssuerInput[],
  options: { cooldownSeconds: number; cacheMaxAgeSeconds?: number },
): Map<string, IssuerKeys> {
  if (issuers.length === 0) throw new Error('the router needs at least one trusted issuer');
  const byIssuer = new Map<string, IssuerKeys>();
  for (const input of issuers) {
    const config = TrustedIssuerSchema.parse(input);
    if (byIssuer.has(config.issuer)) throw new Error(`issuer ${config.issuer} is configured twice`);
    byIssuer.set(config.issuer, {
      config,
      keys: createRemoteJWKSet(new URL(jwksUriOf(config)), {
        cooldownDuration: options.cooldownSeconds * 1000,
        cacheMaxAge: (options.cacheMaxAgeSeconds ?? 600) * 1000,
      }),
    });
  }
  return byIssuer;
}

/**
 * The binding under which `issuer` may speak for a tenant: one of the tenant's own bindings, or,
 * for a tenant with none, the installation's default issuer with its configured claims.
 */
export function bindingFor(options: {
  tenantIssuers: readonly IssuerBinding[];
  issuer: TrustedIssuer;
  defaultIssuer: string;
}): Pick<IssuerBinding, 'tenantClaim' | 'rolesClaim'> | undefined {
  const { tenantIssuers, issuer, defaultIssuer } = options;
  if (tenantIssuers.length === 0) {
    return issuer.issuer === defaultIssuer
      ? { tenantClaim: issuer.tenantClaim, rolesClaim: issuer.rolesClaim }
      : undefined;
  }
  return tenantIssuers.find((binding) => binding.issuer === issuer.issuer);
}
