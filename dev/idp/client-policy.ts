// Who may become a client of the development IdP without an operator, and what such a client may do.
//
// Stock MCP clients (Claude Code, VS Code, Cursor, the Inspector, the SDKs) arrive with nothing but
// the router's URL. They identify themselves in one of two ways, and the development IdP accepts both:
// - a Client ID Metadata Document: the client_id is an https URL of a JSON document the IdP fetches
//   (the method the 2026-07-28 MCP specification prefers);
// - open Dynamic Client Registration (RFC 7591) without an initial access token.
// Both yield clients that can do one thing only: let a user sign in on the IdP's pages (authorization
// code + PKCE, then refresh). Their redirect URIs must keep the code on the user's own machine:
// loopback http URIs (RFC 8252 section 7.3) or private-use URI schemes (section 7.1, `cursor://...`).
// A web redirect URI would let anyone register a client that sends a signed-in user's code to their
// own server. Agents acting alone (client credentials) are still registered by the operator, with
// the initial access token: only they carry a tenant binding the IdP has no user to check against.
import { timingSafeEqual } from 'node:crypto';

import type { ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';

/** The grants a client that no operator vetted may hold: a user signs in, the client refreshes. */
export const USER_GRANTS: readonly string[] = ['authorization_code', 'refresh_token'];

/** Schemes a browser or an operating system gives a meaning of its own: never a redirect target. */
const INTERPRETED_SCHEMES = new Set([
  'http',
  'https',
  'javascript',
  'data',
  'file',
  'blob',
  'about',
  'vbscript',
  'ftp',
  'ws',
  'wss',
  'mailto',
]);

/** Loopback http(s) URIs, or a private-use scheme (RFC 8252 section 7.1). */
export function isLocalRedirectUri(uri: string): boolean {
  const url = URL.parse(uri);
  if (url === null || url.hash !== '') return false;
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme === 'http' || scheme === 'https') return isLoopbackHostname(url.hostname);
  return /^[a-z][a-z0-9+.-]*$/.test(scheme) && !INTERPRETED_SCHEMES.has(scheme);
}

export function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Why these grants are more than a client that no operator vetted may hold, or undefined. */
export function grantProblem(grantTypes: readonly string[]): string | undefined {
  const extra = grantTypes.filter((grant) => !USER_GRANTS.includes(grant));
  if (extra.length === 0) return undefined;
  return `without an initial access token a client may only use ${USER_GRANTS.join(' and ')}, not ${extra.join(', ')}`;
}

/** Why metadata that no operator vetted is refused, or undefined when it is acceptable. */
export function userClientProblem(
  metadata: Pick<ClientMetadata, 'grant_types' | 'redirect_uris'>,
): string | undefined {
  const grants = grantProblem(metadata.grant_types ?? []);
  if (grants !== undefined) return grants;
  const redirectUris = metadata.redirect_uris ?? [];
  if (redirectUris.length === 0) return 'redirect_uris must contain members';
  const remote = redirectUris.filter((uri) => !isLocalRedirectUri(uri));
  if (remote.length === 0) return undefined;
  return `without an initial access token redirect_uris must be loopback (http://127.0.0.1, http://[::1], http://localhost) or private-use schemes, not ${remote.join(', ')}`;
}

/**
 * Checks a Dynamic Client Registration request (oidc-provider runs this inside its registration
 * endpoint, with the parsed metadata and its defaults). A request that presents a bearer token must
 * present the initial access token and may then register anything oidc-provider accepts; a request
 * without one may register a user client only (`userClientProblem`).
 */
export function checkRegistration(
  ctx: KoaContextWithOIDC,
  metadata: ClientMetadata,
  initialAccessToken: string,
): void {
  const authorization = ctx.get('authorization');
  if (authorization !== '') {
    if (!sameSecret(authorization, `Bearer ${initialAccessToken}`)) {
      throw new errors.InvalidToken('invalid initial access token value');
    }
    return;
  }
  const problem = userClientProblem(metadata);
  if (problem !== undefined) throw new errors.InvalidClientMetadata(problem);
  // Every redirect URI on the user's machine makes this a native application (RFC 8252). Registered
  // without an application_type, oidc-provider would take it for a web client, which refuses
  // private-use schemes (`cursor://...`) and matches loopback ports exactly, where RFC 8252 section
  // 7.3 (and the MCP specification) ask the IdP to accept any port. Mutating is how oidc-provider's
  // validator hook amends metadata: the schema re-reads these fields after it.
  const requested = ctx.oidc.body?.['application_type'];
  if (requested === undefined) metadata.application_type = 'native';
}

/** Whether this validation runs inside the registration endpoint (and not on a stored client's load). */
export function isRegistrationRequest(ctx: KoaContextWithOIDC | undefined): ctx is KoaContextWithOIDC {
  return ctx?.oidc?.route === 'registration' && ctx.method === 'POST';
}

function sameSecret(presented: string, expected: string): boolean {
  const [a, b] = [Buffer.from(presented), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}
