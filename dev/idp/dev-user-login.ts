// A scripted user login against the development IdP: the authorization code flow with PKCE (S256),
// driving oidc-provider's development login and consent pages with a small cookie jar. Tests and
// the CLI use it to obtain user tokens (with `tenant` and `roles`) without a browser. It only works
// with `devInteractions`, which accept any password: never point it at a real IdP.
import { createHash, randomBytes } from 'node:crypto';

import { registerClient } from './dev-client.ts';
import { TENANT_CLIENT_METADATA } from './dev-idp-options.ts';
import type { TokenResponse } from './idp-http.ts';
import { fetchServerMetadata, requestError, requestToken } from './idp-http.ts';

/** Redirects, login page and consent page each take a step; a healthy flow needs about eight. */
const MAX_STEPS = 20;

export interface RegisterUserClientOptions {
  issuer: string;
  initialAccessToken: string;
  clientName: string;
  redirectUris: string[];
  /** Binds the client to one tenant: users of other tenants then get no token through it. */
  tenant?: string;
}

export interface AuthorizeUserOptions {
  issuer: string;
  clientId: string;
  redirectUri: string;
  resource: string;
  /** Space-separated. No `offline_access` needed: refresh tokens come with the client's grant. */
  scope: string;
  /** The account id to sign in as (one of the IdP's configured users). */
  login: string;
}

/** Registers a public client (PKCE, no secret) for the authorization code and refresh grants. */
export async function registerUserClient(options: RegisterUserClientOptions): Promise<{ clientId: string }> {
  const body = await registerClient({
    issuer: options.issuer,
    initialAccessToken: options.initialAccessToken,
    metadata: {
      client_name: options.clientName,
      redirect_uris: options.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(options.tenant === undefined ? {} : { [TENANT_CLIENT_METADATA]: options.tenant }),
    },
  });
  const clientId = body['client_id'];
  if (typeof clientId !== 'string') throw new Error('client registration answered without client_id');
  return { clientId };
}

/** Signs `login` in through the development pages and exchanges the code for tokens. */
export async function authorizeUser(options: AuthorizeUserOptions): Promise<TokenResponse> {
  const metadata = await fetchServerMetadata(options.issuer);
  if (!metadata.authorizationEndpoint)
    throw new Error(`the IdP at ${options.issuer} has no authorization endpoint`);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorizationUrl = new URL(metadata.authorizationEndpoint);
  authorizationUrl.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: options.scope,
    resource: options.resource,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();

  const callback = await followInteractions(authorizationUrl, options);
  const params = callback.searchParams;
  if (params.get('error')) {
    throw requestError('authorization', 302, params.get('error'), params.get('error_description'));
  }
  if (params.get('state') !== state)
    throw new Error('authorization response state does not match the request');
  const code = params.get('code');
  if (!code) throw new Error('authorization response carries no code');

  return requestToken({
    tokenEndpoint: metadata.tokenEndpoint,
    params: {
      grant_type: 'authorization_code',
      client_id: options.clientId,
      code,
      redirect_uri: options.redirectUri,
      code_verifier: verifier,
      resource: options.resource,
    },
    operation: 'authorization code exchange',
  });
}

/** Exchanges a refresh token (rotated by the IdP: use the returned one next time). */
export async function refreshUserToken(options: {
  issuer: string;
  clientId: string;
  refreshToken: string;
  resource: string;
}): Promise<TokenResponse> {
  const { tokenEndpoint } = await fetchServerMetadata(options.issuer);
  return requestToken({
    tokenEndpoint,
    params: {
      grant_type: 'refresh_token',
      client_id: options.clientId,
      refresh_token: options.refreshToken,
      resource: options.resource,
    },
    operation: 'refresh token exchange',
  });
}

/**
 * Signs `login` in at an authorization URL that a client built itself (an MCP SDK OAuth provider,
 * say, with its own PKCE challenge, state and resource) and returns the callback URL the IdP
 * redirected to, carrying `code`, `state` and `iss`. The code exchange stays with that client.
 */
export function signInAtAuthorizationUrl(
  authorizationUrl: URL,
  options: { redirectUri: string; login: string },
): Promise<URL> {
  return followInteractions(authorizationUrl, options);
}

/** Follows redirects, submitting the login and consent forms, until the client's redirect URI. */
async function followInteractions(
  start: URL,
  options: Pick<AuthorizeUserOptions, 'redirectUri' | 'login'>,
): Promise<URL> {
  const jar = new Map<string, string>();
  let next: { url: URL; form?: URLSearchParams } = { url: start };
  let logins = 0;
  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (next.url.href.startsWith(options.redirectUri)) return next.url;
    const response = await fetch(next.url, {
      method: next.form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(next.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(next.form ? { body: next.form } : {}),
    });
    storeCookies(jar, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      next = { url: new URL(location, next.url) };
      continue;
    }
    const page = await response.text();
    if (!response.ok)
      throw new Error(`authorization flow stopped at ${next.url.pathname} with HTTP ${response.status}`);
    const form = formFor(page, options.login);
    // The login page coming back means oidc-provider found no account for this login.
    if (form.get('prompt') === 'login' && (logins += 1) > 1) {
      throw new Error(`the IdP did not accept the login ${JSON.stringify(options.login)}`);
    }
    next = { url: next.url, form };
  }
  throw new Error(`authorization flow did not reach ${options.redirectUri} within ${MAX_STEPS} steps`);
}

/** The development pages carry a hidden `prompt` field naming the step they ask for. */
function formFor(page: string, login: string): URLSearchParams {
  if (page.includes('name="prompt" value="login"')) {
    // devInteractions accept any password; the account must still be one the IdP knows.
    return new URLSearchParams({ prompt: 'login', login, password: 'development' });
  }
  if (page.includes('name="prompt" value="consent"')) return new URLSearchParams({ prompt: 'consent' });
  throw new Error('authorization flow reached a page that is neither the login nor the consent page');
}

/** Path-agnostic on purpose: the flow is sequential and oidc-provider's cookie names are distinct. */
function storeCookies(jar: Map<string, string>, setCookies: string[]): void {
  for (const header of setCookies) {
    const [pair = '', ...attributes] = header.split(';');
    const separator = pair.indexOf('=');
    if (separator < 1) continue;
    const name = pair.slice(0, separator).trim();
    const expired = attributes.some((attribute) => /^\s*expires=Thu, 01 Jan 1970/i.test(attribute));
    if (expired) jar.delete(name);
    else jar.set(name, pair.slice(separator + 1).trim());
  }
}
