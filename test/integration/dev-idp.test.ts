// The development IdP, started for real in-process: registration, client-credentials tokens and
// their exact shape, checked the way the router will check them (jose against the remote JWKS).
import { randomBytes } from 'node:crypto';

import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DevIdpRequestError,
  mintClientCredentialsToken,
  registerAgentClient,
} from '../../dev/idp/dev-client.ts';
import type { StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { startDevIdp } from '../../dev/idp/dev-idp.ts';
import { authorizeUser, refreshUserToken, registerUserClient } from '../../dev/idp/dev-user-login.ts';

const RESOURCE_URL = 'http://127.0.0.1:8080/mcp';
const OTHER_RESOURCE_URL = 'http://127.0.0.1:8081/mcp';
const TTL_SECONDS = 180;
const TENANT = 'acme-corp';
const REDIRECT_URI = 'http://127.0.0.1:5999/callback';

describe('dev IdP', () => {
  const initialAccessToken = randomBytes(24).toString('base64url');
  let idp: StartedDevIdp;

  beforeAll(async () => {
    idp = await startDevIdp({
      port: 0,
      resources: [
        { url: RESOURCE_URL, scopes: ['records:read', 'records:write'], accessTokenTtlSeconds: TTL_SECONDS },
      ],
      initialAccessToken,
      users: [
        { id: 'alice', tenant: TENANT, roles: ['editor'] },
        { id: 'bob', tenant: 'globex', roles: ['viewer'] },
      ],
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await idp?.close();
  });

  async function registerAcmeAgent(scopes = ['records:read', 'records:write']) {
    return registerAgentClient({
      issuer: idp.issuer,
      initialAccessToken,
      tenant: TENANT,
      scopes,
      clientName: 'test agent',
    });
  }

  it('derives the issuer and endpoints from the bound port', () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(idp.issuer).not.toBe('http://127.0.0.1:0');
    expect(idp.url).toBe(idp.issuer);
    expect(idp.jwksUri).toBe(`${idp.issuer}/jwks`);
    expect(idp.tokenEndpoint).toBe(`${idp.issuer}/token`);
    expect(idp.registrationEndpoint).toBe(`${idp.issuer}/reg`);
  });

  it('mints a tenant-bound ES256 at+jwt for the resource that verifies against the JWKS', async () => {
    const { clientId, clientSecret } = await registerAcmeAgent();
    const token = await mintClientCredentialsToken({
      issuer: idp.issuer,
      clientId,
      clientSecret,
      resource: RESOURCE_URL,
      scope: 'records:read',
    });

    const header = decodeProtectedHeader(token);
    expect(header.typ).toBe('at+jwt');
    expect(header.alg).toBe('ES256');
    expect(typeof header.kid).toBe('string');

    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: RESOURCE_URL,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(payload.aud).toBe(RESOURCE_URL);
    expect(payload['tenant']).toBe(TENANT);
    expect(payload['scope']).toBe('records:read');
    expect(payload['client_id']).toBe(clientId);
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(TTL_SECONDS);
    // oidc-provider (RFC 9068 section 2.2): without a resource owner, `sub` is the client id.
    expect(payload.sub).toBe(clientId);
    expect(payload['roles']).toBeUndefined();
  });

  it('defaults to the only configured resource when the request names none', async () => {
    const { clientId, clientSecret } = await registerAcmeAgent();
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'records:write' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBe(TTL_SECONDS);
    expect(decodeJwt(body.access_token).aud).toBe(RESOURCE_URL);
  });

  it('refuses an unknown resource with invalid_target', async () => {
    const { clientId, clientSecret } = await registerAcmeAgent();
    const error = await mintClientCredentialsToken({
      issuer: idp.issuer,
      clientId,
      clientSecret,
      resource: OTHER_RESOURCE_URL,
      scope: 'records:read',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevIdpRequestError);
    expect((error as DevIdpRequestError).error).toBe('invalid_target');
  });

  it('refuses a scope the client was not registered with', async () => {
    const { clientId, clientSecret } = await registerAcmeAgent(['records:read']);
    const error = await mintClientCredentialsToken({
      issuer: idp.issuer,
      clientId,
      clientSecret,
      resource: RESOURCE_URL,
      scope: 'records:write',
    }).catch((e: unknown) => e);
    expect((error as DevIdpRequestError).error).toBe('invalid_scope');
  });

  it('refuses registration with a wrong initial access token', async () => {
    const error = await registerAgentClient({
      issuer: idp.issuer,
      initialAccessToken: 'not-the-initial-access-token',
      tenant: TENANT,
      scopes: ['records:read'],
      clientName: 'intruder',
    }).catch((e: unknown) => e);
    expect((error as DevIdpRequestError).status).toBe(401);
    expect((error as DevIdpRequestError).error).toBe('invalid_token');
  });

  it.each(['Acme', 'a', '1acme', 'acme-', 'acme_corp', 'x'.repeat(33)])(
    'refuses the malformed tenant id %j',
    async (tenant) => {
      const error = await registerAgentClient({
        issuer: idp.issuer,
        initialAccessToken,
        tenant,
        scopes: ['records:read'],
        clientName: 'bad tenant',
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DevIdpRequestError);
      expect((error as DevIdpRequestError).error).toBe('invalid_client_metadata');
    },
  );

  it('refuses a client-credentials client without a tenant', async () => {
    const response = await fetch(idp.registrationEndpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${initialAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_client_metadata');
  });

  describe('authorization code flow (users)', () => {
    async function registerUserApp(tenant?: string) {
      return registerUserClient({
        issuer: idp.issuer,
        initialAccessToken,
        clientName: 'test app',
        redirectUris: [REDIRECT_URI],
        ...(tenant === undefined ? {} : { tenant }),
      });
    }

    it("issues user tokens carrying the account's tenant and roles, with rotating refresh tokens", async () => {
      const { clientId } = await registerUserApp(TENANT);
      const tokens = await authorizeUser({
        issuer: idp.issuer,
        clientId,
        redirectUri: REDIRECT_URI,
        resource: RESOURCE_URL,
        scope: 'openid records:read',
        login: 'alice',
      });

      const { payload, protectedHeader } = await jwtVerify(
        tokens.accessToken,
        createRemoteJWKSet(new URL(idp.jwksUri)),
        { issuer: idp.issuer, audience: RESOURCE_URL, typ: 'at+jwt', algorithms: ['ES256'] },
      );
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload.sub).toBe('alice');
      expect(payload['client_id']).toBe(clientId);
      expect(payload['tenant']).toBe(TENANT);
      expect(payload['roles']).toEqual(['editor']);
      expect(payload['scope']).toBe('records:read');
      expect(payload.exp! - payload.iat!).toBe(TTL_SECONDS);
      expect(tokens.refreshToken).toBeDefined();

      const refreshed = await refreshUserToken({
        issuer: idp.issuer,
        clientId,
        refreshToken: tokens.refreshToken!,
        resource: RESOURCE_URL,
      });
      expect(decodeJwt(refreshed.accessToken)['tenant']).toBe(TENANT);
      expect(refreshed.refreshToken).toBeDefined();
      expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);

      // Rotation: the consumed refresh token is dead (and its reuse revokes the grant).
      const reuse = await refreshUserToken({
        issuer: idp.issuer,
        clientId,
        refreshToken: tokens.refreshToken!,
        resource: RESOURCE_URL,
      }).catch((e: unknown) => e);
      expect((reuse as DevIdpRequestError).error).toBe('invalid_grant');
    });

    it('refuses a user of another tenant through a tenant-bound client', async () => {
      const { clientId } = await registerUserApp(TENANT);
      const error = await authorizeUser({
        issuer: idp.issuer,
        clientId,
        redirectUri: REDIRECT_URI,
        resource: RESOURCE_URL,
        scope: 'records:read',
        login: 'bob',
      }).catch((e: unknown) => e);
      expect((error as DevIdpRequestError).error).toBe('invalid_grant');
    });

    it('shows the login page again for an account the IdP does not know', async () => {
      const { clientId } = await registerUserApp();
      await expect(
        authorizeUser({
          issuer: idp.issuer,
          clientId,
          redirectUri: REDIRECT_URI,
          resource: RESOURCE_URL,
          scope: 'records:read',
          login: 'mallory',
        }),
      ).rejects.toThrow('the IdP did not accept the login "mallory"');
    });

    it('refuses an authorization request without PKCE', async () => {
      const { clientId } = await registerUserApp();
      const url = new URL(`${idp.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'records:read',
        state: 'xyz',
      }).toString();
      const response = await fetch(url, { redirect: 'manual' });
      const location = new URL(response.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(REDIRECT_URI);
      expect(location.searchParams.get('error')).toBe('invalid_request');
    });
  });
});
