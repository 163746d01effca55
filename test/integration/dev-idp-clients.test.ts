// How clients that no operator vetted reach the development IdP: open Dynamic Client Registration
// for user clients with local redirect URIs, and Client ID Metadata Documents fetched over https
// (loopback only from origins the IdP was told to trust). The IdP runs for real, in-process.
import { randomBytes } from 'node:crypto';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { startDevIdp } from '../../dev/idp/dev-idp.ts';
import {
  startMetadataDocumentServer,
  type MetadataDocumentServer,
} from '../support/metadata-document-server.ts';

const RESOURCE_URL = 'http://127.0.0.1:8080/mcp';
const LOOPBACK_REDIRECT = 'http://127.0.0.1:5999/callback';
const USER_CLIENT = {
  client_name: 'stock client',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};

describe('dev IdP: clients without an operator', () => {
  const initialAccessToken = randomBytes(24).toString('base64url');
  let idp: StartedDevIdp;
  let trusted: MetadataDocumentServer;
  let untrusted: MetadataDocumentServer;
  let agentDocument: MetadataDocumentServer;

  beforeAll(async () => {
    trusted = await startMetadataDocumentServer({ ...USER_CLIENT, redirect_uris: [LOOPBACK_REDIRECT] });
    untrusted = await startMetadataDocumentServer({ ...USER_CLIENT, redirect_uris: [LOOPBACK_REDIRECT] });
    agentDocument = await startMetadataDocumentServer({
      ...USER_CLIENT,
      grant_types: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [] },
      redirect_uris: [LOOPBACK_REDIRECT],
    });
    idp = await startDevIdp({
      port: 0,
      resources: [{ url: RESOURCE_URL, scopes: ['records:read'] }],
      initialAccessToken,
      users: [{ id: 'alice', tenant: 'acme', roles: ['editor'] }],
      localMetadataOrigins: [trusted, agentDocument].map(({ origin, certificate }) => ({
        origin,
        ca: certificate,
      })),
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await idp?.close();
    await Promise.all([trusted, untrusted, agentDocument].map((server) => server?.close()));
  });

  async function register(metadata: Record<string, unknown>, bearer?: string) {
    const response = await fetch(idp.registrationEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
      },
      body: JSON.stringify(metadata),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function authorize(clientId: string, redirectUri = LOOPBACK_REDIRECT) {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'records:read',
      resource: RESOURCE_URL,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    return {
      status: response.status,
      location: response.headers.get('location'),
      page: await response.text(),
    };
  }

  describe('open Dynamic Client Registration', () => {
    it.each([
      LOOPBACK_REDIRECT,
      'http://localhost:33418/callback',
      'http://[::1]:8000/cb',
      'cursor://anysphere.cursor-mcp/oauth/callback',
    ])('registers a user client redirecting to %s without a token', async (redirectUri) => {
      const { status, body } = await register({ ...USER_CLIENT, redirect_uris: [redirectUri] });
      expect(status).toBe(201);
      expect(body).toMatchObject({ client_id: expect.any(String), redirect_uris: [redirectUri] });
      expect(body['client_secret']).toBeUndefined();
    });

    it.each([
      'https://attacker.example/callback',
      'http://127.0.0.1.attacker.example/callback',
      'http://localhost.attacker.example/callback',
      'javascript://127.0.0.1/%0aalert(1)',
      'file:///tmp/callback',
    ])('refuses the redirect URI %s without a token', async (redirectUri) => {
      const { status, body } = await register({
        ...USER_CLIENT,
        redirect_uris: [LOOPBACK_REDIRECT, redirectUri],
      });
      expect(status).toBe(400);
      expect(body['error']).toBe('invalid_client_metadata');
    });

    it('refuses an agent acting alone (client credentials) without a token', async () => {
      const { status, body } = await register({
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        bulkhead_tenant: 'acme',
      });
      expect(status).toBe(400);
      expect(body['error']).toBe('invalid_client_metadata');
      expect(body['error_description']).toContain('client_credentials');
    });

    it('still registers an agent, or a web redirect URI, with the initial access token', async () => {
      const agent = await register(
        {
          grant_types: ['client_credentials'],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
          bulkhead_tenant: 'acme',
        },
        initialAccessToken,
      );
      expect(agent.status).toBe(201);
      expect(agent.body['client_secret']).toEqual(expect.any(String));
      const web = await register(
        { ...USER_CLIENT, redirect_uris: ['https://app.example/callback'] },
        initialAccessToken,
      );
      expect(web.status).toBe(201);
    });

    it('lets a loopback client sign in on any port (RFC 8252 section 7.3)', async () => {
      const { body } = await register({ ...USER_CLIENT, redirect_uris: ['http://127.0.0.1/callback'] });
      expect(body['application_type']).toBe('native');
      const { status, location } = await authorize(
        String(body['client_id']),
        'http://127.0.0.1:40123/callback',
      );
      expect(status).toBe(303);
      expect(location).toMatch(/^\/interaction\//);
    });

    it('refuses a wrong token instead of treating the request as anonymous', async () => {
      const { status, body } = await register(
        { ...USER_CLIENT, redirect_uris: [LOOPBACK_REDIRECT] },
        'not-the-initial-access-token',
      );
      expect(status).toBe(401);
      expect(body['error']).toBe('invalid_token');
    });
  });

  describe('Client ID Metadata Documents', () => {
    it('advertises them in its metadata', async () => {
      const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
      expect(await response.json()).toMatchObject({ client_id_metadata_document_supported: true });
    });

    it('accepts a document URL as client_id and goes on to the sign-in', async () => {
      const before = trusted.fetches;
      const { status, location } = await authorize(trusted.clientId);
      expect(status).toBe(303);
      expect(location).toMatch(/^\/interaction\//);
      expect(trusted.fetches).toBe(before + 1);
    });

    it('does not fetch from loopback origins it was not told to trust', async () => {
      const { status, page } = await authorize(untrusted.clientId);
      expect(status).toBe(400);
      expect(page).toContain('invalid_client');
      expect(untrusted.fetches).toBe(0);
    });

    it('refuses a document that asks for more than a user client may hold', async () => {
      const { status, page } = await authorize(agentDocument.clientId);
      expect(status).toBe(400);
      expect(page).toContain('invalid_client');
    });

    it('does not accept an http document URL', async () => {
      const { status, page } = await authorize(trusted.clientId.replace('https:', 'http:'));
      expect(status).toBe(400);
      expect(page).toContain('invalid_client');
    });
  });
});
