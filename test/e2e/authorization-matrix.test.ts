// Two identities on every call, end to end: real IdP (users sign in through the authorization code
// flow with PKCE; agents use client credentials), the real router, the tenant's real container. A
// call needs the tenant to enable the tool, the user's role to grant it and the agent's scopes to
// grant it; a token without a user gets only what the tenant opened to agents alone. Every
// decision, permit and deny, is logged with tenant, user, agent, tool and reason (captured here
// from the router's pino output).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTools } from '../../kernel/registry/tenant-registry.ts';
import { mcpPost } from '../support/auth-harness.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'matrix';
const decisions: Record<string, unknown>[] = [];
let stack: TestStack;

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'matrix', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

function call(token: string, name: string, args: Record<string, unknown> = {}) {
  return mcpPost(stack.mcpUrl, token, {
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name, arguments: args },
  });
}

function decisionsFor(tool: string, user: string | null): Record<string, unknown>[] {
  return decisions.filter((d) => d['tool'] === tool && d['user'] === user);
}

beforeAll(async () => {
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry['msg'] === 'authorization decision') decisions.push(entry);
      },
    },
  );
  stack = await startTestStack('authz', {
    logger,
    users: [
      { id: 'alice', tenant: TENANT, roles: ['writer'] },
      { id: 'bob', tenant: TENANT, roles: ['reader'] },
    ],
  });
  await stack.onboard(TENANT, {
    // Explicit policy: writers create, readers read; agents alone may list (and whoami).
    tools: defaultTools().map((pin) => (pin.name === 'records_list' ? { ...pin, agentsAlone: true } : pin)),
    roles: {
      writer: ['records_create', 'records_list', 'whoami'],
      reader: ['records_get', 'records_list', 'whoami'],
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

describe('authorization matrix', () => {
  it('user allowed, agent denied: the role grants records_create but the token lacks records:write (403)', async () => {
    const token = await stack.userToken('alice', { tenant: TENANT, scope: 'records:read' });
    const answer = await call(token, 'records_create', { title: 'nope', idempotency_key: 'matrix-1' });
    expect(answer.status).toBe(403);
    expect(answer.challenge).toContain('error="insufficient_scope"');
    const [logged] = decisionsFor('records_create', 'alice');
    expect(logged).toMatchObject({
      tenant: TENANT,
      user: 'alice',
      tool: 'records_create',
      decision: 'deny',
      reason: 'insufficient_scope',
    });
    expect(typeof logged?.['agent']).toBe('string');
  });

  it("agent allowed, user denied: every scope on the token, but bob's role does not grant records_create", async () => {
    const token = await stack.userToken('bob', { tenant: TENANT, scope: 'records:read records:write' });
    const client = await connect(token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['records_get', 'records_list', 'whoami']);
    // Indistinguishable from a tool that does not exist: same error, same message shape.
    const denied = await client
      .callTool({ name: 'records_create', arguments: { title: 'x', idempotency_key: 'matrix-2' } })
      .catch((e: Error) => e);
    const missing = await client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e: Error) => e);
    expect(denied).toBeInstanceOf(Error);
    expect(missing).toBeInstanceOf(Error);
    expect((denied as Error).message.replace('records_create', 'T')).toBe(
      (missing as Error).message.replace('no_such_tool', 'T'),
    );
    const listed = await client.callTool({ name: 'records_list', arguments: {} });
    expect(listed.isError).toBeFalsy();
    await client.close();
    expect(decisionsFor('records_create', 'bob')).toEqual([
      expect.objectContaining({ tenant: TENANT, decision: 'deny', reason: 'user_role_denies' }),
    ]);
    expect(decisionsFor('no_such_tool', 'bob')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'unknown_tool' }),
    ]);
    expect(decisionsFor('records_list', 'bob')).toEqual([
      expect.objectContaining({ decision: 'permit', reason: 'user_role_and_scope_allow' }),
    ]);
  });

  it('agent-only token: only what the tenant opened to agents acting alone, whatever its scopes', async () => {
    const token = await stack.agentToken(TENANT, { scope: 'records:read records:write' });
    const client = await connect(token);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['records_list', 'whoami']);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({ tenant: TENANT, user: null, acting_alone: true });
    const agent = (who.structuredContent as { agent: string }).agent;
    expect((await client.callTool({ name: 'records_list', arguments: {} })).isError).toBeFalsy();
    await expect(
      client.callTool({ name: 'records_create', arguments: { title: 'x', idempotency_key: 'matrix-2' } }),
    ).rejects.toThrow(/Unknown tool/);
    // Not even a step-up hint: an agent alone may not use records_get at all.
    const probe = await call(token, 'records_get', { id: '00000000-0000-4000-8000-000000000000' });
    expect(probe.status).toBe(200);
    expect(probe.body).toContain('Unknown tool');
    await client.close();
    expect(decisionsFor('records_create', null)).toEqual([
      expect.objectContaining({
        tenant: TENANT,
        agent,
        decision: 'deny',
        reason: 'not_open_to_agents_alone',
      }),
    ]);
    expect(decisionsFor('records_list', null)).toEqual([
      expect.objectContaining({ agent, decision: 'permit', reason: 'open_to_agents_alone_and_scope_allows' }),
    ]);
  });

  it('scope step-up: 403 insufficient_scope naming the scope, then the re-authorized token succeeds', async () => {
    const narrow = await stack.userToken('alice', { tenant: TENANT, scope: 'records:read' });
    const answer = await call(narrow, 'records_create', {
      title: 'after step-up',
      idempotency_key: 'matrix-4',
    });
    expect(answer.status).toBe(403);
    const metadataUrl = `${new URL(stack.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`;
    expect(answer.challenge).toMatch(/^Bearer error="insufficient_scope", scope="records:write", /);
    expect(answer.challenge).toContain(`resource_metadata="${metadataUrl}"`);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'insufficient_scope', scope: 'records:write' });

    const wide = await stack.userToken('alice', { tenant: TENANT, scope: 'records:read records:write' });
    const client = await connect(wide);
    const created = await client.callTool({
      name: 'records_create',
      arguments: { title: 'after step-up', idempotency_key: 'matrix-5' },
    });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent).toMatchObject({
      record: { title: 'after step-up', createdBy: 'alice' },
    });
    await client.close();
    expect(decisionsFor('records_create', 'alice').map((d) => [d['decision'], d['reason']])).toEqual([
      ['deny', 'insufficient_scope'],
      ['deny', 'insufficient_scope'],
      ['permit', 'user_role_and_scope_allow'],
    ]);
  });

  it('logs every decision with tenant, user, agent, tool, decision and reason', () => {
    expect(decisions.length).toBeGreaterThanOrEqual(9);
    for (const entry of decisions) {
      expect(entry).toEqual(
        expect.objectContaining({
          tenant: TENANT,
          user: expect.toSatisfy((u: unknown) => u === null || typeof u === 'string'),
          agent: expect.any(String),
          tool: expect.any(String),
          decision: expect.stringMatching(/^(permit|deny)$/),
          reason: expect.any(String),
        }),
      );
    }
  });
});
