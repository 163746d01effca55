// Real MCP clients against the running router as agents acting alone, each through a real OAuth grant
// at the embedded IdP: the SDK v2 client in both protocol eras and the v1 SDK client with their
// client-credentials providers (the operator registered the agent); the MCP Inspector CLI with a
// bearer header; and one 2025-11-25 session served by two router processes. Users signing in through
// unmodified clients: test/e2e/stock-clients.test.ts and test/e2e/inspector-web.test.ts.
import {
  Client,
  ClientCredentialsProvider,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider as V1ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { registerAgentClient } from '../../dev/idp/dev-client.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { INITIAL_ACCESS_TOKEN, startTestStack, type TestStack } from '../support/stack.ts';
import { inspectorCli } from '../support/inspector-cli.ts';

let stack: TestStack;

type Era = 'legacy' | 'modern';

function newClient(era: Era): Client {
  return new Client(
    { name: `e2e-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
}

async function whoami(client: Client): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  return result.structuredContent as Record<string, unknown>;
}

async function agentCredentials(): Promise<{ clientId: string; clientSecret: string }> {
  return registerAgentClient({
    issuer: stack.idp.issuer,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    tenant: 'alpha',
    scopes: [...ALL_SCOPES],
    clientName: 'e2e agent',
  });
}

beforeAll(async () => {
  stack = await startTestStack('clients');
  // Agents acting alone (client credentials) see only what the tenant opens to them.
  await stack.onboard('alpha', { tools: openToAgentsAlone('all') });
});

afterAll(async () => {
  await stack?.close();
});

describe('MCP SDK v2 client with its client-credentials provider', () => {
  for (const era of ['legacy', 'modern'] as const) {
    it(`gets a token for the agent and calls tools (${era} era)`, async () => {
      const { clientId, clientSecret } = await agentCredentials();
      const provider = new ClientCredentialsProvider({
        clientId,
        clientSecret,
        scope: ALL_SCOPES.join(' '),
        expectedIssuer: stack.idp.issuer,
      });
      const client = newClient(era);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { authProvider: provider }),
      );
      expect(decodeJwt(provider.tokens()?.access_token ?? '')).toMatchObject({
        aud: stack.mcpUrl,
        client_id: clientId,
      });
      expect(await whoami(client)).toMatchObject({
        tenant: 'alpha',
        user: null,
        agent: clientId,
        acting_alone: true,
      });
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('records_list');
      await client.close();
    });
  }
});

describe('MCP SDK v1 client (2025-11-25)', () => {
  it('gets a token with its client-credentials provider and calls tools', async () => {
    const { clientId, clientSecret } = await agentCredentials();
    const provider = new V1ClientCredentialsProvider({
      clientId,
      clientSecret,
      scope: ALL_SCOPES.join(' '),
      expectedIssuer: stack.idp.issuer,
    });
    const transport = new V1Transport(new URL(stack.mcpUrl), { authProvider: provider });
    const client = new V1Client({ name: 'e2e-v1', version: '1.0.0' });
    await client.connect(transport);
    expect(transport.sessionId).toEqual(expect.any(String));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ tenant: 'alpha', agent: clientId });
    const listed = await client.callTool({ name: 'records_list', arguments: {} });
    expect(listed.isError).toBeFalsy();
    await transport.terminateSession();
    await client.close();
  });
});

describe('MCP Inspector CLI', () => {
  it('lists and calls tools with a bearer header', async () => {
    const token = await stack.agentToken('alpha');
    const cli = await inspectorCli({ mcpUrl: stack.mcpUrl, token });
    try {
      const listed = (await cli.run('--method', 'tools/list')) as { tools: { name: string }[] };
      expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['whoami', 'records_create']));
      const called = await cli.run(
        '--method',
        'tools/call',
        '--tool-name',
        'records_create',
        '--tool-arg',
        'title=from-inspector',
        '--tool-arg',
        'idempotency_key=inspector-1',
      );
      expect(called).toMatchObject({ structuredContent: { record: { title: 'from-inspector' } } });
    } finally {
      await cli.close();
    }
  });
});

describe('one 2025-11-25 session across two router processes', () => {
  it('is served alternately by both replicas, with no sticky routing', async () => {
    const second = await stack.replica();
    try {
      const replicas = [new URL(stack.mcpUrl).origin, second.url];
      const served = [0, 0];
      const sessionIds = new Set<string>();
      let turn = 0;
      // A load balancer with no affinity at all: every request goes to the other replica.
      const alternating: typeof fetch = (input, init) => {
        const index = turn++ % 2;
        served[index] = (served[index] ?? 0) + 1;
        const url = new URL(input instanceof Request ? input.url : String(input));
        const target = new URL(url.pathname + url.search, replicas[index]);
        const sessionId = new Headers(init?.headers).get('mcp-session-id');
        if (sessionId) sessionIds.add(sessionId);
        return fetch(target, init);
      };
      const token = await stack.agentToken('alpha');
      const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
        authProvider: { token: () => Promise.resolve(token) },
        fetch: alternating,
      });
      const client = newClient('legacy');
      await client.connect(transport);
      for (let i = 0; i < 4; i += 1) {
        expect(await whoami(client)).toMatchObject({ tenant: 'alpha' });
      }
      await client.listTools();
      expect(sessionIds.size).toBe(1);
      expect(served[0]).toBeGreaterThanOrEqual(3);
      expect(served[1]).toBeGreaterThanOrEqual(3);
      await transport.terminateSession();
      // Terminated on one replica means gone on both.
      const [sessionId] = [...sessionIds];
      for (const origin of replicas) {
        const response = await fetch(`${origin}/mcp`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': sessionId ?? '',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
        });
        expect(response.status).toBe(404);
      }
      await client.close();
    } finally {
      await second.close();
    }
  });
});
