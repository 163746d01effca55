// Client-side helpers for the development IdP, used by the CLI and by tests: register an agent
// client bound to one tenant, then mint client-credentials access tokens for it. Plain `fetch`
// against the IdP's advertised endpoints; every token comes from the IdP, none is signed here.
import { TENANT_CLIENT_METADATA } from './dev-idp-options.ts';
import { basicAuthorization, fetchServerMetadata, readJson, requestToken } from './idp-http.ts';

export { DevIdpRequestError } from './idp-http.ts';

export interface RegisterAgentClientOptions {
  issuer: string;
  initialAccessToken: string;
  tenant: string;
  scopes: string[];
  clientName: string;
}

export interface AgentClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface MintClientCredentialsTokenOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The MCP server's resource URL (RFC 8707); it becomes the token's audience. */
  resource: string;
  /** Space-separated, or a list. */
  scope: string | string[];
}

/** Registers a confidential client for the client-credentials grant, bound to one tenant. */
export async function registerAgentClient(
  options: RegisterAgentClientOptions,
): Promise<AgentClientCredentials> {
  const body = await registerClient({
    issuer: options.issuer,
    initialAccessToken: options.initialAccessToken,
    metadata: {
      client_name: options.clientName,
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: options.scopes.join(' '),
      [TENANT_CLIENT_METADATA]: options.tenant,
    },
  });
  const clientId = body['client_id'];
  const clientSecret = body['client_secret'];
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string') {
    throw new Error('client registration answered without client_id and client_secret');
  }
  return { clientId, clientSecret };
}

/** Runs the client-credentials grant for one resource and returns the access token. */
export async function mintClientCredentialsToken(
  options: MintClientCredentialsTokenOptions,
): Promise<string> {
  const { tokenEndpoint } = await fetchServerMetadata(options.issuer);
  const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
  const { accessToken } = await requestToken({
    tokenEndpoint,
    authorization: basicAuthorization(options.clientId, options.clientSecret),
    params: { grant_type: 'client_credentials', resource: options.resource, scope },
    operation: 'token request',
  });
  return accessToken;
}

/** Dynamic Client Registration (RFC 7591) with the operator's initial access token. */
export async function registerClient(options: {
  issuer: string;
  initialAccessToken: string;
  metadata: Record<string, unknown>;
}): Promise<Record<string, unknown>> {
  const { registrationEndpoint } = await fetchServerMetadata(options.issuer);
  if (!registrationEndpoint) {
    throw new Error(`the IdP at ${options.issuer} does not advertise a registration endpoint`);
  }
  const response = await fetch(registrationEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.initialAccessToken}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(options.metadata),
  });
  return readJson(response, 'client registration');
}
