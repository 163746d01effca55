// Stock MCP SDK clients against the running router, as a new user meets it: nothing injected, no
// secret handed to the client. The client gets the 401, discovers the development IdP through the
// router's protected resource metadata, identifies itself (open Dynamic Client Registration with a
// loopback redirect URI, or its Client ID Metadata Document URL), the user signs in on the IdP's
// pages (followed here as a browser would), and the client lists tools and calls a write tool.
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { UnauthorizedError as V1UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startMetadataDocumentServer,
  type MetadataDocumentServer,
} from '../support/metadata-document-server.ts';
import { ScriptedLoginProvider, USER_CLIENT_METADATA } from '../support/oauth-clients.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let documents: MetadataDocumentServer;

type Era = 'legacy' | 'modern';
type Registration = 'dynamic registration' | 'metadata document';

interface Called {
  tools: string[];
  structuredContent: unknown;
}

beforeAll(async () => {
  documents = await startMetadataDocumentServer(USER_CLIENT_METADATA);
  stack = await startTestStack('stock', {
    users: [{ id: 'alice', tenant: 'alpha', roles: ['editor'] }],
    localMetadataOrigins: [{ origin: documents.origin, ca: documents.certificate }],
  });
  await stack.onboard('alpha');
});

afterAll(async () => {
  await stack?.close();
  await documents?.close();
});

function providerFor(registration: Registration): ScriptedLoginProvider {
  return new ScriptedLoginProvider(
    registration === 'metadata document' ? { clientMetadataUrl: documents.clientId } : {},
  );
}

/** What every stock client must have done before the user signed in. */
function expectAuthorizationRequest(provider: ScriptedLoginProvider, registration: Registration): void {
  const request = provider.authorizationUrl;
  expect(request?.origin).toBe(stack.idp.issuer);
  expect(request?.searchParams.get('code_challenge_method')).toBe('S256');
  expect(request?.searchParams.get('resource')).toBe(stack.mcpUrl);
  const clientId = provider.clientInformation()?.client_id;
  expect(request?.searchParams.get('client_id')).toBe(clientId);
  if (registration === 'metadata document') expect(clientId).toBe(documents.clientId);
  // A dynamically registered client_id is the IdP's own, not a URL.
  else expect(clientId).toMatch(/^[\w-]+$/);
}

function expectUserToken(provider: ScriptedLoginProvider, clientId: string | undefined): void {
  expect(decodeJwt(provider.tokens()?.access_token ?? '')).toMatchObject({
    aud: stack.mcpUrl,
    sub: 'alice',
    tenant: 'alpha',
    client_id: clientId,
  });
}

const writeCall = (label: string) => ({
  name: 'records_create',
  arguments: { title: `by alice (${label})`, idempotency_key: `alice-${label}` },
});

describe('MCP SDK v2 client, unmodified, user sign-in', () => {
  const cases = [
    ['legacy', 'dynamic registration'],
    ['modern', 'dynamic registration'],
    ['legacy', 'metadata document'],
    ['modern', 'metadata document'],
  ] as const satisfies readonly (readonly [Era, Registration])[];

  it.each(cases)('%s era, %s: signs in, lists tools, calls a write tool', async (era, registration) => {
    const provider = providerFor(registration);
    const newClient = () =>
      new Client(
        { name: `stock-v2-${era}`, version: '1.0.0' },
        era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
      );
    const transport = () =>
      new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider });

    const first = transport();
    await expect(newClient().connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expectAuthorizationRequest(provider, registration);
    await first.finishAuth(await provider.signIn('alice'));
    expectUserToken(provider, provider.clientInformation()?.client_id);

    const client = newClient();
    await client.connect(transport());
    expect(client.getNegotiatedProtocolVersion()).toBe(era === 'legacy' ? '2025-11-25' : '2026-07-28');
    const label = `v2-${era}-${registration.split(' ')[0]}`;
    const called: Called = {
      tools: (await client.listTools()).tools.map((tool) => tool.name),
      structuredContent: (await client.callTool(writeCall(label))).structuredContent,
    };
    expectWriteSeen(called, label);
    await client.close();
  });
});

describe('MCP SDK v1 client, unmodified, user sign-in (2025-11-25)', () => {
  it.each(['dynamic registration', 'metadata document'] as const)(
    '%s: signs in, lists tools, calls a write tool',
    async (registration) => {
      const provider = providerFor(registration);
      const first = new V1Transport(new URL(stack.mcpUrl), { authProvider: provider });
      await expect(
        new V1Client({ name: 'stock-v1', version: '1.0.0' }).connect(first),
      ).rejects.toBeInstanceOf(V1UnauthorizedError);
      expectAuthorizationRequest(provider, registration);
      // v1's callback step takes the code alone.
      await first.finishAuth((await provider.signIn('alice')).get('code') ?? '');
      expectUserToken(provider, provider.clientInformation()?.client_id);

      const transport = new V1Transport(new URL(stack.mcpUrl), { authProvider: provider });
      const client = new V1Client({ name: 'stock-v1', version: '1.0.0' });
      await client.connect(transport);
      expect(transport.sessionId).toEqual(expect.any(String));
      const label = `v1-${registration.split(' ')[0]}`;
      const called: Called = {
        tools: (await client.listTools()).tools.map((tool) => tool.name),
        structuredContent: (await client.callTool(writeCall(label))).structuredContent,
      };
      expectWriteSeen(called, label);
      await transport.terminateSession();
      await client.close();
    },
  );
});

function expectWriteSeen(called: Called, label: string): void {
  expect(called.tools).toEqual(expect.arrayContaining(['whoami', 'records_list', 'records_create']));
  expect(called.structuredContent).toMatchObject({ record: { title: `by alice (${label})` } });
}

it('fetched the metadata document itself (and cached it across sign-ins)', () => {
  // Four sign-ins presented the URL; the document says it may be cached for an hour.
  expect(documents.fetches).toBe(1);
});
