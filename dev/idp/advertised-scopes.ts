// What a resource advertises: the development IdP grants, for a resource configured to be read, the
// scopes that resource names in its protected resource metadata (RFC 9728) besides the configured
// ones. Bulkhead's router advertises its built-in scopes and every approved pack tool's scope
// (router/auth/advertised-scopes.ts), so a client asking for what the resource names gets it.
//
// Read when a request may register a client or ask for a token (dev-idp.ts), without a cache: a
// scope the router has just begun to advertise is grantable at once, and one it no longer
// advertises is refused at once. The resource URL is the operator's configuration, never a client's.
import type pino from 'pino';
import { z } from 'zod';
import { ScopeSchema } from './dev-idp-options.ts';
import { ROLES_SCOPE } from './provider-configuration.ts';

/** More than the router ever advertises (64): a longer list is not the router's, and is ignored. */
const MAX_SCOPES = 128;
const MAX_DOCUMENT_BYTES = 64 * 1024;
const TIMEOUT_MS = 2_000;

/** Scopes an OpenID provider (this one: `roles`) gives a meaning of its own: never a resource's. */
const RESERVED = new Set(['openid', 'offline_access', 'profile', 'email', 'address', 'phone', ROLES_SCOPE]);

/** RFC 9728 section 3.1: the well-known path goes between the host and the resource's path. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

/**
 * The scopes the resource advertises now; throws when its metadata cannot be read or does not
 * describe exactly this resource (RFC 9728 section 3.3). The development CLI asks for these.
 * `metadataUrl`: where to read it instead of the resource's own well-known URL.
 */
export async function fetchAdvertisedScopes(resource: string, metadataUrl?: string): Promise<string[]> {
  const url = metadataUrl ?? resourceMetadataUrl(resource);
  const Metadata = z.looseObject({
    resource: z.literal(resource),
    scopes_supported: z.array(ScopeSchema).max(MAX_SCOPES).default([]),
  });
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok || text.length > MAX_DOCUMENT_BYTES) {
    throw new Error(`${url}: HTTP ${response.status}, ${text.length} characters`);
  }
  const metadata = Metadata.parse(JSON.parse(text));
  return metadata.scopes_supported.filter((scope) => !RESERVED.has(scope));
}

/** fetchAdvertisedScopes, or none when they cannot be read (the resource is not up yet, say). */
export async function readAdvertisedScopes(
  resource: string,
  logger: pino.Logger,
  metadataUrl?: string,
): Promise<string[]> {
  try {
    return await fetchAdvertisedScopes(resource, metadataUrl);
  } catch (error) {
    logger.debug({ err: error, resource }, 'dev IdP: resource metadata not read; configured scopes only');
    return [];
  }
}
