// The development IdP grants, for a resource it is told to read, the scopes that resource advertises
// in its protected resource metadata: a scope appears (a pack approved at the router) and a client
// may register with it and get tokens carrying it; a client registered without it is refused it; a
// scope no longer advertised is refused again; metadata describing another resource is ignored; the
// metadata is read from where the IdP is told when the resource's own URL does not reach it.
// The resource here is a real HTTP server serving an RFC 9728 document, changed by the test.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DevIdpRequestError,
  mintClientCredentialsToken,
  registerAgentClient,
} from '../../dev/idp/dev-client.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { authorizeUser, registerUserClient } from '../../dev/idp/dev-user-login.ts';

const REDIRECT_URI = 'http://127.0.0.1:5999/callback';
const initialAccessToken = randomBytes(24).toString('base64url');
let idp: StartedDevIdp;
let resource: Server;
let resourceUrl: string;
/** What the resource's metadata says now. */
const advertised = { resource: '', scopes: ['records:read'] };

beforeAll(async () => {
  resource = createServer((req, res) => {
    const served = new URL(resourceUrl).pathname;
    if (req.url !== `/.well-known/oauth-protected-resource${served}`) return res.writeHead(404).end();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ resource: advertised.resource, scopes_supported: advertised.scopes }));
  });
  await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve));
  resourceUrl = `http://127.0.0.1:${(resource.address() as AddressInfo).port}/mcp`;
  advertised.resource = resourceUrl;
  idp = await startDevIdp({
    port: 0,
    resources: [{ url: resourceUrl, scopes: ['records:read'], readMetadata: true }],
    initialAccessToken,
    users: [{ id: 'alice', tenant: 'acme', roles: ['editor'] }],
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await idp?.close();
  resource?.closeAllConnections();
  await new Promise((resolve) => resource?.close(resolve));
});

const register = (scopes: string[]) =>
  registerAgentClient({
    issuer: idp.issuer,
    initialAccessToken,
    tenant: 'acme',
    scopes,
    clientName: 'agent',
  });
const mint = (agent: { clientId: string; clientSecret: string }, scope: string) =>
  mintClientCredentialsToken({ issuer: idp.issuer, ...agent, resource: resourceUrl, scope });
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'granted',
    (error: unknown) => (error instanceof DevIdpRequestError ? error.error : String(error)),
  );

describe('dev IdP: the scopes a resource advertises', () => {
  it('refuses a scope the resource does not advertise, grants it once it does', async () => {
    advertised.scopes = ['records:read'];
    expect(await refusal(register(['records:read', 'notes:read']))).toBe('invalid_client_metadata');

    advertised.scopes = ['records:read', 'notes:read', 'notes:write'];
    const agent = await register(['records:read', 'notes:read']);
    expect(decodeJwt(await mint(agent, 'records:read notes:read'))['scope']).toBe('records:read notes:read');
    // Registered without notes:write: refused it, as a built-in scope would be.
    expect(await refusal(mint(agent, 'notes:write'))).toBe('invalid_scope');

    // A client registered before the change keeps working.
    const older = await register(['records:read']);
    advertised.scopes = ['records:read', 'notes:read', 'notes:write', 'files:read'];
    expect(decodeJwt(await mint(older, 'records:read'))['scope']).toBe('records:read');
  });

  it('stops granting a scope the resource no longer advertises', async () => {
    advertised.scopes = ['records:read', 'notes:read'];
    const agent = await register(['records:read', 'notes:read']);
    expect(decodeJwt(await mint(agent, 'notes:read'))['scope']).toBe('notes:read');
    advertised.scopes = ['records:read'];
    const after = await mint(agent, 'records:read notes:read').then(
      (token) => String(decodeJwt(token)['scope']),
      (error: unknown) => (error as DevIdpRequestError).error,
    );
    expect(after).not.toContain('notes:read');
    expect(await refusal(register(['notes:read']))).toBe('invalid_client_metadata');
  });

  it('ignores metadata that describes another resource, and OpenID scope names', async () => {
    advertised.scopes = ['records:read', 'notes:read', 'offline_access', 'roles'];
    advertised.resource = 'http://127.0.0.1:1/elsewhere';
    try {
      expect(await refusal(register(['notes:read']))).toBe('invalid_client_metadata');
    } finally {
      advertised.resource = resourceUrl;
    }
    // `roles` is the IdP's own (the ID token's roles claim), never a scope of the resource.
    const agent = await register(['roles', 'notes:read']);
    expect(decodeJwt(await mint(agent, 'notes:read roles'))['scope']).toBe('notes:read');
  });

  it('grants a user the advertised scopes through the login pages', async () => {
    advertised.scopes = ['records:read', 'notes:read'];
    const { clientId } = await registerUserClient({
      issuer: idp.issuer,
      initialAccessToken,
      clientName: 'app',
      redirectUris: [REDIRECT_URI],
      tenant: 'acme',
    });
    const tokens = await authorizeUser({
      issuer: idp.issuer,
      clientId,
      redirectUri: REDIRECT_URI,
      resource: resourceUrl,
      scope: 'records:read notes:read',
      login: 'alice',
    });
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ scope: 'records:read notes:read', sub: 'alice' });
  });

  it('reads the metadata where it is told to when the resource URL does not reach it (compose)', async () => {
    // The resource URL names a port nothing listens on from here, as the host's published port does
    // from inside the compose IdP; the document, read from the metadata URL, names that resource.
    const elsewhere = 'http://127.0.0.1:9/mcp';
    const served = `${new URL(resourceUrl).origin}/.well-known/oauth-protected-resource/mcp`;
    const start = (metadataUrl?: string) =>
      startDevIdp({
        port: 0,
        resources: [{ url: elsewhere, scopes: ['records:read'], readMetadata: true, metadataUrl }],
        initialAccessToken,
        logger: pino({ level: 'silent' }),
      });
    advertised.resource = elsewhere;
    advertised.scopes = ['records:read', 'notes:read'];
    const [told, untold] = [await start(served), await start()];
    try {
      const agentOf = (at: StartedDevIdp) =>
        registerAgentClient({
          issuer: at.issuer,
          initialAccessToken,
          tenant: 'acme',
          scopes: ['notes:read'],
          clientName: 'agent',
        });
      const agent = await agentOf(told);
      const token = await mintClientCredentialsToken({
        issuer: told.issuer,
        ...agent,
        resource: elsewhere,
        scope: 'notes:read',
      });
      expect(decodeJwt(token)['scope']).toBe('notes:read');
      // Without it, the IdP reads the resource's own URL, finds nothing and grants the configured scopes only.
      expect(await refusal(agentOf(untold))).toBe('invalid_client_metadata');
    } finally {
      advertised.resource = resourceUrl;
      await told.close();
      await untold.close();
    }
  });
});
