// OAuth on the client side of the end-to-end tests: an in-memory `OAuthClientProvider` for the MCP
// SDK's own authorization code flow (the SDK discovers, registers, builds the PKCE S256 request with
// the resource indicator and redeems the code; only the browser step is scripted), and a fetch that
// presents the operator's initial access token to the IdP's registration endpoint (RFC 7591).
import type {
  OAuthClientMetadata,
  OAuthDiscoveryState,
  OAuthClientProvider,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';

/** Where the provider says the browser would land; nothing listens there, the login is scripted. */
export const REDIRECT_URI = 'http://127.0.0.1:5998/callback';

export class ScriptedLoginProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #verifier = '';
  #discovery: OAuthDiscoveryState | undefined;

  get redirectUrl(): string {
    return REDIRECT_URI;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'bulkhead e2e (SDK OAuth provider)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): StoredOAuthClientInformation | undefined {
    return this.#client;
  }

  saveClientInformation(info: StoredOAuthClientInformation): void {
    this.#client = info;
  }

  tokens(): StoredOAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: StoredOAuthTokens): void {
    this.#tokens = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    return this.#verifier;
  }

  // Kept with the verifier so the SDK can bind the callback to the authorization server it used.
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.#discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery;
  }

  /** The browser step: sign `login` in at the URL the SDK built; returns the callback's parameters. */
  async signIn(login: string): Promise<URLSearchParams> {
    if (!this.authorizationUrl) throw new Error('the SDK did not start an authorization');
    const callback = await signInAtAuthorizationUrl(this.authorizationUrl, {
      redirectUri: REDIRECT_URI,
      login,
    });
    const state = this.authorizationUrl.searchParams.get('state');
    if (state !== null && callback.searchParams.get('state') !== state) throw new Error('state mismatch');
    return callback.searchParams;
  }
}

/** A fetch that adds the initial access token to client registration requests, and only to those. */
export function withInitialAccessToken(
  registrationEndpoint: string,
  initialAccessToken: string,
): typeof fetch {
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url !== registrationEndpoint) return fetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${initialAccessToken}`);
    return fetch(input, { ...init, headers });
  };
}
