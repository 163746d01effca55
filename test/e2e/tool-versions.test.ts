// Versioned tools and shared tools through the real router: a tenant pinned to a deprecated version
// is served that version (narrower schema, "DEPRECATED" description, `_meta` on results); upgrading
// its pin sends tools/list_changed to a listening 2026-07-28 client; quota_status and docs_search
// answer in-process; an operator's own shared tool module is loaded from configuration.
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport, type Tool } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;
const TENANT = 'pinned';
const changes: Tool[][] = [];

async function setPin(version: string): Promise<void> {
  const record = await stack.registry.require(TENANT);
  const next: TenantRecord = {
    ...record,
    tools: record.tools.map((pin) => (pin.name === 'records_list' ? { ...pin, version } : pin)),
    generation: record.generation + 1,
  };
  await redis.set(`${stack.ns.installation.registryPrefix}:tenant:${TENANT}`, JSON.stringify(next));
}

async function connect(): Promise<Client> {
  const token = await stack.agentToken(TENANT);
  const client = new Client(
    { name: 'versions', version: '1.0.0' },
    {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      listChanged: {
        tools: { onChanged: (error, tools) => (error ? undefined : changes.push(tools ?? [])) },
      },
    },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  stack = await startTestStack('versions', {
    router: {
      pinWatchIntervalMs: 300,
      sharedToolModules: [fileURLToPath(new URL('../support/fixtures/operator-tool.ts', import.meta.url))],
    },
  });
  redis = new Redis(stack.ns.installation.redis);
  // These calls come from agents acting alone (client credentials): open the tools to them.
  await stack.onboard(TENANT, { tools: openToAgentsAlone('all') });
  await setPin('1.0.0');
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe('versioned tools', () => {
  it('serves the pinned deprecated version with its narrower schema and says so in the description and _meta', async () => {
    const client = await connect();
    const list = await until(async () => {
      const { tools } = await client.listTools();
      const tool = tools.find((t) => t.name === 'records_list');
      return tool?.description?.startsWith('DEPRECATED') ? tool : undefined;
    }, 'the pinned version');
    expect(Object.keys(list.inputSchema.properties ?? {})).not.toContain('due_before');
    const result = await client.callTool({ name: 'records_list', arguments: {} });
    expect(result._meta?.['io.bulkhead/deprecated']).toMatchObject({ replacedBy: '1.1.0' });
    const narrower = await client.callTool({ name: 'records_list', arguments: { due_before: '2026-01-01' } });
    expect(narrower.structuredContent).toMatchObject({ error: { code: 'invalid_arguments' } });
    await client.close();
  });

  it('sends tools/list_changed to a listening client when the tenant is upgraded', async () => {
    const client = await connect();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = changes.length;
    await setPin('1.1.0');
    const upgraded = await until(
      () =>
        Promise.resolve(
          changes
            .slice(before)
            .map((tools) => tools.find((t) => t.name === 'records_list'))
            .find((tool) => tool && !tool.description?.startsWith('DEPRECATED')),
        ),
      'a list_changed notification with records_list 1.1.0',
    );
    expect(Object.keys(upgraded.inputSchema.properties ?? {})).toContain('due_before');
    const result = await client.callTool({ name: 'records_list', arguments: { due_before: '2026-01-01' } });
    expect(result.isError).toBeFalsy();
    expect(result._meta?.['io.bulkhead/deprecated']).toBeUndefined();
    await client.close();
  });

  it('orders records by a closed enum and refuses values outside it', async () => {
    const client = await connect();
    for (const title of ['first', 'second']) {
      await client.callTool({
        name: 'records_create',
        arguments: { title, idempotency_key: `order-${title}-key` },
      });
    }
    const titles = async (order: string) =>
      (
        (await client.callTool({ name: 'records_list', arguments: { order } })).structuredContent as {
          records: { title: string }[];
        }
      ).records.map((r) => r.title);
    expect(await titles('newest_first')).toEqual(['second', 'first']);
    expect(await titles('oldest_first')).toEqual(['first', 'second']);
    const bad = await client.callTool({ name: 'records_list', arguments: { order: 'random' } });
    expect(bad.structuredContent).toMatchObject({ error: { code: 'invalid_arguments' } });
    await client.close();
  });

  it('answers an unknown tool with a JSON-RPC error that carries the structured error', async () => {
    const client = await connect();
    const error = (await client
      .callTool({ name: 'records_purge_all', arguments: {} })
      .catch((e: unknown) => e)) as {
      code: number;
      data: unknown;
    };
    expect(error.code).toBe(-32602);
    expect(error.data).toMatchObject({ error_class: 'validation', code: 'unknown_tool', retryable: false });
    await client.close();
  });

  it('lists tools in a deterministic order', async () => {
    const client = await connect();
    const first = (await client.listTools()).tools.map((t) => t.name);
    const second = (await client.listTools()).tools.map((t) => t.name);
    expect(first).toEqual(second);
    expect(first).toEqual([...first].sort());
    await client.close();
  });
});

describe('shared read-only tools', () => {
  it('quota_status says what the caller may still do', async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'quota_status', arguments: {} });
    const status = result.structuredContent as {
      tenant: string;
      plan: { name: string };
      tools: { name: string; version: string; writes: boolean }[];
      idempotency_window_ms: number;
    };
    expect(status).toMatchObject({
      tenant: TENANT,
      plan: { name: 'small' },
      idempotency_window_ms: 86_400_000,
    });
    expect(status.tools).toContainEqual(expect.objectContaining({ name: 'records_create', writes: true }));
    await client.close();
  });

  it('docs_search finds lines in the published docs and refuses a path for a document name', async () => {
    const client = await connect();
    const found = await client.callTool({ name: 'docs_search', arguments: { query: 'idempotency_key' } });
    const { matches } = found.structuredContent as { matches: { doc: string; line: number; text: string }[] };
    expect(matches.length).toBeGreaterThan(0);
    expect(matches[0]).toMatchObject({ doc: 'getting-started.md' });
    const escape = await client.callTool({
      name: 'docs_search',
      arguments: { query: 'root', doc: '../../../etc/passwd' },
    });
    expect(escape.structuredContent).toMatchObject({
      error: { error_class: 'validation', code: 'path_traversal' },
    });
    await client.close();
  });

  it("serves an operator's own shared tool module loaded from configuration", async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'units_convert')?.annotations).toMatchObject({ readOnlyHint: true });
    const result = await client.callTool({
      name: 'units_convert',
      arguments: { value: 2, from: 'km', to: 'm' },
    });
    expect(result.structuredContent).toEqual({ value: 2000 });
    const bad = await client.callTool({
      name: 'units_convert',
      arguments: { value: 2, from: 'mile', to: 'm' },
    });
    expect(bad.structuredContent).toMatchObject({ error: { code: 'invalid_arguments' } });
    await client.close();
  });
});
