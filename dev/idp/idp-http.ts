// HTTP plumbing shared by the development IdP's client helpers: discovery, JSON answers and the
// IdP's OAuth error responses turned into errors that carry `error` and `error_description`.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

/** A refusal from the IdP, carrying its HTTP status, OAuth `error` code and description. */
export class DevIdpRequestError extends BulkheadError<'idp_request_failed'> {
  readonly status: number;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;

  constructor(options: { operation: string; status: number; error?: string; errorDescription?: string }) {
    const detail = [options.error, options.errorDescription].filter(Boolean).join(': ');
    super(
      'idp_request_failed',
      `${options.operation} failed with HTTP ${options.status}${detail ? ` (${detail})` : ''}`,
    );
    this.status = options.status;
    this.error = options.error;
    this.errorDescription = options.errorDescription;
  }
}

export interface ServerMetadata {
  authorizationEndpoint: string | undefined;
  tokenEndpoint: string;
  registrationEndpoint: string | undefined;
}

export async function fetchServerMetadata(issuer: string): Promise<ServerMetadata> {
  // OpenID discovery rather than hard-coded paths: the helpers then work against any OIDC provider
  // that offers Dynamic Client Registration and RFC 8707 resource indicators.
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const body = await readJson(await fetch(url, { headers: { accept: 'application/json' } }), 'IdP discovery');
  const tokenEndpoint = body['token_endpoint'];
  if (typeof tokenEndpoint !== 'string') throw new Error(`IdP discovery at ${url} has no token_endpoint`);
  return {
    authorizationEndpoint: optionalString(body['authorization_endpoint']),
    tokenEndpoint,
    registrationEndpoint: optionalString(body['registration_endpoint']),
  };
}

/** Parses a JSON object answer; a non-2xx answer becomes a `DevIdpRequestError`. */
export async function readJson(response: Response, operation: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  if (!response.ok) {
    throw requestError(operation, response.status, record?.['error'], record?.['error_description']);
  }
  if (!record) throw new Error(`${operation} answered HTTP ${response.status} without a JSON object`);
  return record;
}

export function requestError(
  operation: string,
  status: number,
  error: unknown,
  description: unknown,
): DevIdpRequestError {
  return new DevIdpRequestError({
    operation,
    status,
    ...(typeof error === 'string' ? { error } : {}),
    ...(typeof description === 'string' ? { errorDescription: description } : {}),
  });
}

/** The token endpoint's answer, reduced to what the helpers hand back. */
export interface TokenResponse {
  accessToken: string;
  expiresIn: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  scope: string | undefined;
}

export async function requestToken(options: {
  tokenEndpoint: string;
  params: Record<string, string>;
  authorization?: string;
  operation: string;
}): Promise<TokenResponse> {
  const response = await fetch(options.tokenEndpoint, {
    method: 'POST',
    headers: {
      ...(options.authorization ? { authorization: options.authorization } : {}),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(options.params),
  });
  const body = await readJson(response, options.operation);
  const accessToken = body['access_token'];
  if (typeof accessToken !== 'string') throw new Error(`${options.operation} answered without access_token`);
  const expiresIn = body['expires_in'];
  return {
    accessToken,
    expiresIn: typeof expiresIn === 'number' ? expiresIn : undefined,
    refreshToken: optionalString(body['refresh_token']),
    idToken: optionalString(body['id_token']),
    scope: optionalString(body['scope']),
  };
}

/** RFC 6749 section 2.3.1: id and secret are form-encoded before they are joined and base64-encoded. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
