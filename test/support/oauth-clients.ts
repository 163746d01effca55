// OAuth on the client side of the end-to-end tests: an in-memory `OAuthClientProvider` for the MCP
// SDKs' own authorization code flow, the kind every MCP application writes to keep its client and
// tokens. The SDK does everything else unaided (discovers, registers or presents its Client ID
// Metadata Document URL, builds the PKCE S256 request with the resource indicator, redeems the code);
// only the browser step is scripted, following the IdP's pages as a browser would.
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

export interface ScriptedLoginOptions {
  /** An https URL serving this client's metadata document: the SDK then uses it as its client_id. */
  clientMetadataUrl?: string;
}

/** What a public MCP client registers (or publishes in its metadata document). */
export const USER_CLIENT_METADATA = {
  client_name: 'bulkhead e2e (SDK OAuth provider)',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
} satisfies OAuthClientMetadata;

export class ScriptedLoginProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  readonly clientMetadataUrl: string | undefined;
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #verifier = '';
  #discovery: OAuthDiscoveryState | undefined;

  constructor(options: ScriptedLoginOptions = {}) {
    this.clientMetadataUrl = options.clientMetadataUrl;
  }

  get redirectUrl(): string {
    return REDIRECT_URI;
  }

  get clientMetadata(): OAuthClientMetadata {
    return USER_CLIENT_METADATA;
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
