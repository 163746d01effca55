// Options of the development IdP, checked once when it is created ("fail loudly in constructors"): a
// typo in a resource URL or a tenant id would otherwise surface much later as an `invalid_target`
// or a token the router refuses, far from its cause.
import type pino from 'pino';
import { z } from 'zod';

import { TenantIdSchema } from '../../kernel/tenant/tenant-spec.ts';

/** Short-lived by default: the router re-verifies on every call and agents refresh cheaply. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 5 * 60;

/** The client metadata that binds a registered client (an agent) to one tenant. */
export const TENANT_CLIENT_METADATA = 'bulkhead_tenant';

/** Scope values travel space-separated, so a scope may not contain a space (RFC 6749 section 3.3). */
export const ScopeSchema = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is one or more printable non-space characters');

const ResourceSchema = z.strictObject({
  /** The resource indicator (RFC 8707): the MCP server's canonical URL, also the token's `aud`. */
  url: z.url({ protocol: /^https?$/ }).refine((url) => !url.includes('#'), 'a resource URL has no fragment'),
  scopes: z.array(ScopeSchema).min(1),
  /**
   * Also grant the scopes the resource advertises in its protected resource metadata (RFC 9728),
   * read when a client registers or asks for a token (dev/idp/advertised-scopes.ts): a Bulkhead
   * router's scopes grow as packs are approved.
   */
  readMetadata: z.boolean().default(false),
  /**
   * Where that metadata is read, when the resource's own URL does not reach it from this process (in
   * docker-compose.yml the resource URL names the host's port, the IdP reaches the router by its
   * service name). The document must still name `url` as its resource. Default: `url`'s well-known
   * metadata URL.
   */
  metadataUrl: z.url({ protocol: /^https?$/ }).optional(),
  accessTokenTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 60 * 60)
    .optional(),
});
export type DevIdpResource = z.input<typeof ResourceSchema>;

const UserSchema = z.strictObject({
  id: z.string().min(1).max(200),
  /** Absent for people of the installation rather than a tenant (the console's operators, auditors). */
  tenant: TenantIdSchema.optional(),
  roles: z.array(z.string().min(1).max(100)),
});
export type DevIdpUser = z.input<typeof UserSchema>;

const LocalMetadataOriginSchema = z.strictObject({
  origin: z
    .url({ protocol: /^https$/ })
    .refine((url) => new URL(url).origin === url, 'an origin: https://host:port, no path'),
  /** PEM certificate(s) to trust for this origin only (a development certificate, self-signed). */
  ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'a PEM certificate' }),
});
export type LocalMetadataOrigin = z.input<typeof LocalMetadataOriginSchema>;

const OptionsSchema = z.strictObject({
  /** Origin only (`http://127.0.0.1:9400`): the IdP serves its endpoints at the root. */
  issuer: z.url({ protocol: /^https?$/ }),
  resources: z
    .array(ResourceSchema)
    .min(1)
    .refine((list) => new Set(list.map((r) => r.url)).size === list.length, 'resource URLs must be unique'),
  // Long enough that guessing it is not an option; compared in constant time by oidc-provider.
  initialAccessToken: z.string().min(16, 'the initial access token must be at least 16 characters'),
  users: z
    .array(UserSchema)
    .default([])
    .refine((list) => new Set(list.map((u) => u.id)).size === list.length, 'user ids must be unique'),
  defaultAccessTokenTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 60 * 60)
    .default(DEFAULT_ACCESS_TOKEN_TTL_SECONDS),
  localMetadataOrigins: z.array(LocalMetadataOriginSchema).default([]),
});

export interface DevIdpOptions {
  issuer: string;
  resources: DevIdpResource[];
  /**
   * Bearer secret for operator registrations (agents acting alone, any redirect URI). Registration
   * without it is open to user clients with local redirect URIs only (dev/idp/client-policy.ts).
   */
  initialAccessToken: string;
  /** Accounts for the authorization-code flow (login through the development interaction pages). */
  users?: DevIdpUser[];
  /** TTL of access tokens for resources that do not set their own; 5 minutes when omitted. */
  defaultAccessTokenTtlSeconds?: number;
  /**
   * https origins on this machine whose Client ID Metadata Documents the IdP may fetch, each with the
   * certificate to trust for it (a client developer's own document server, or a test's). Every other
   * document URL is fetched with oidc-provider's protection: special-use addresses (loopback, private
   * networks) are refused, so a client_id cannot make the IdP probe the network it runs in.
   */
  localMetadataOrigins?: LocalMetadataOrigin[];
  logger: pino.Logger;
}

export type ParsedDevIdpOptions = z.output<typeof OptionsSchema> & { logger: pino.Logger };

export function parseDevIdpOptions(options: DevIdpOptions): ParsedDevIdpOptions {
  const { logger, ...rest } = options;
  const parsed = OptionsSchema.safeParse(rest);
  if (!parsed.success) {
    throw new Error(`invalid dev IdP options: ${z.prettifyError(parsed.error)}`);
  }
  const issuer = new URL(parsed.data.issuer);
  // oidc-provider's handler serves its routes at the root; an issuer with a path would advertise
  // endpoints that this handler does not serve.
  if (issuer.pathname !== '/' || issuer.search !== '' || issuer.hash !== '') {
    throw new Error(
      `invalid dev IdP options: issuer must be an origin without path or query, got ${options.issuer}`,
    );
  }
  return { ...parsed.data, issuer: issuer.origin, logger };
}
