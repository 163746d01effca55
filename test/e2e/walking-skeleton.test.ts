// The hybrid path end to end with real parts: the embedded IdP issues OAuth tokens, real MCP
// clients call /mcp, a shared tool answers in-process, a write lands in the calling tenant's own
// container and volume, and another tenant sees nothing of it.
import { DatabaseSync } from 'node:sqlite';
import type { Client } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { OTHER_RESOURCE, startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;

function connect(token: string, era: 'legacy' | 'modern' = 'modern'): Promise<Client> {
  return bearerClient(stack.mcpUrl, token, era);
}

async function volumeRows(tenant: string): Promise<{ title: string }[]> {
  const volume = await stack.ns.docker.getVolume(`bulkhead-${stack.ns.namespace}-${tenant}-data`).inspect();
  const db = new DatabaseSync(`${volume.Mountpoint}/packs/records/records.db`, { readOnly: true });
  try {
    return db.prepare('SELECT title FROM records').all() as { title: string }[];
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  stack = await startTestStack('e2e');
  // These tests drive the records tools with agents acting alone: open them explicitly (the
  // registry's default opens only whoami to tokens without a user).
  const policy = { tools: openToAgentsAlone('all') };
  await Promise.all([stack.onboard('alpha', policy), stack.onboard('bravo', policy)]);
});

afterAll(async () => {
  await stack?.close();
});

describe('walking skeleton', () => {
  let recordId: string;

  it('answers whoami in-process with the identity from the verified token, in both protocol eras', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const client = await connect(await stack.agentToken('alpha'), era);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toMatchObject({ tenant: 'alpha', user: null, acting_alone: true });
      await client.close();
    }
  });

  it("lists the shared tools and the tenant's tools in a deterministic order", async () => {
    const client = await connect(await stack.agentToken('alpha'));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'docs_search',
      'quota_status',
      'records_bulk_create',
      'records_create',
      'records_delete',
      'records_get',
      'records_list',
      'records_update',
      'whoami',
    ]);
    await client.close();
  });

  it("writes a record into tenant A's own container and volume only", async () => {
    const client = await connect(await stack.agentToken('alpha'));
    const result = await client.callTool({
      name: 'records_create',
      arguments: { title: 'alpha-secret', body: 'only for alpha', idempotency_key: 'skeleton-create-1' },
    });
    expect(result.isError).toBeFalsy();
    recordId = (result.structuredContent as { record: { id: string } }).record.id;
    await client.close();
    expect((await volumeRows('alpha')).map((r) => r.title)).toContain('alpha-secret');
    expect((await volumeRows('bravo')).map((r) => r.title)).not.toContain('alpha-secret');
  });

  it("does not let tenant B's agent read tenant A's record", async () => {
    const client = await connect(await stack.agentToken('bravo'));
    const got = await client.callTool({ name: 'records_get', arguments: { id: recordId } });
    expect(got.isError).toBe(true);
    expect(got.structuredContent).toMatchObject({ error: { error_class: 'validation', code: 'unknown_id' } });
    const listed = await client.callTool({ name: 'records_list', arguments: {} });
    expect((listed.structuredContent as { records: unknown[] }).records).toEqual([]);
    await client.close();
  });

  it('updates, lists and deletes records through the router', async () => {
    const client = await connect(await stack.agentToken('alpha'));
    const created = await client.callTool({
      name: 'records_create',
      arguments: { title: 'draft', tags: ['x'], idempotency_key: 'skeleton-create-2' },
    });
    const { id } = (created.structuredContent as { record: { id: string } }).record;
    const updated = await client.callTool({
      name: 'records_update',
      arguments: { id, title: 'final', idempotency_key: 'skeleton-update-1' },
    });
    expect(updated.structuredContent).toMatchObject({ record: { id, title: 'final', tags: ['x'] } });
    const listed = await client.callTool({ name: 'records_list', arguments: { limit: 10 } });
    expect(
      (listed.structuredContent as { records: { title: string }[] }).records.map((r) => r.title),
    ).toEqual(['alpha-secret', 'final']);
    const deleted = await client.callTool({
      name: 'records_delete',
      arguments: { id, idempotency_key: 'skeleton-delete-1' },
    });
    expect(deleted.structuredContent).toEqual({ deleted: id });
    const gone = await client.callTool({ name: 'records_get', arguments: { id } });
    expect(gone.structuredContent).toMatchObject({ error: { code: 'unknown_id' } });
    await client.close();
  });

  it('rejects arguments that break the tool schema before they reach the container', async () => {
    const client = await connect(await stack.agentToken('alpha'));
    const result = await client.callTool({
      name: 'records_create',
      arguments: { title: '', extra: 'field' },
    });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({
      error: { error_class: 'validation', code: 'invalid_arguments', retryable: false },
    });
    await client.close();
  });

  it('serves the v1 SDK client (2025-11-25) too', async () => {
    const token = await stack.agentToken('alpha');
    const client = new V1Client({ name: 'e2e-v1', version: '1.0.0' });
    await client.connect(
      new V1Transport(new URL(stack.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    const result = await client.callTool({ name: 'records_get', arguments: { id: recordId } });
    expect((result.structuredContent as { record: { title: string } }).record.title).toBe('alpha-secret');
    await client.close();
  });

  it('answers a request without a token with 401 and a WWW-Authenticate challenge', async () => {
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain(
      `resource_metadata="${new URL(stack.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp"`,
    );
    const metadata = (await (
      await fetch(`${new URL(stack.mcpUrl).origin}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    expect(metadata).toMatchObject({ resource: stack.mcpUrl, authorization_servers: [stack.idp.issuer] });
  });

  it('rejects a token minted for another audience with 401', async () => {
    const token = await stack.agentToken('alpha', { resource: OTHER_RESOURCE });
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('hides the tenant tools from a token without their scopes, and asks for a step-up on a call', async () => {
    const client = await connect(await stack.agentToken('alpha', { scope: 'records:read' }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      'docs_search',
      'quota_status',
      'records_get',
      'records_list',
      'whoami',
    ]);
    await expect(
      client.callTool({
        name: 'records_create',
        arguments: { title: 'nope', idempotency_key: 'nope-key-1' },
      }),
    ).rejects.toThrow('Insufficient scope: required "records:write"');
    await client.close();
  });
});
