// Versioned tools and shared tools through the real router: a tenant pinned to a deprecated version
// is served that version (narrower schema, "DEPRECATED" description, `_meta` on results, a result
// with only the fields its schema names, which the SDK's client checks); upgrading its pin sends
// tools/list_changed to a listening 2026-07-28 client; records_list 1.2.0's next_cursor, followed
// while records are deleted and created between pages, reaches every record once and ends with the
// last one; quota_status and docs_search answer in-process; an operator's own shared tool module is
// loaded from configuration.
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
    expect(result._meta?.['io.bulkhead/deprecated']).toMatchObject({ replacedBy: '1.2.0' });
    expect(result.structuredContent).not.toHaveProperty('next_cursor');
    const narrower = await client.callTool({ name: 'records_list', arguments: { due_before: '2026-01-01' } });
    expect(narrower.structuredContent).toMatchObject({ error: { code: 'invalid_arguments' } });
    await client.close();
  });

  it('answers a tenant pinned to 1.1.0 as 1.1.0 described its result, without the later next_cursor', async () => {
    await setPin('1.1.0');
    const client = await connect();
    await until(async () => {
      const { tools } = await client.listTools();
      return tools.find((t) => t.description?.includes('1.1.0 is replaced by 1.2.0'));
    }, 'the pinned 1.1.0');
    // The SDK's client checks the structured content against the schema 1.1.0 lists, which
    // refuses fields it does not name: a next_cursor would fail this call.
    const result = await client.callTool({ name: 'records_list', arguments: { due_before: '2026-01-01' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ records: [] });
    expect(result._meta?.['io.bulkhead/deprecated']).toMatchObject({ replacedBy: '1.2.0' });
    await client.close();
  });

  it('sends tools/list_changed to a listening client when the tenant is upgraded', async () => {
    const client = await connect();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = changes.length;
    await setPin('1.2.0');
    const upgraded = await until(
      () =>
        Promise.resolve(
          changes
            .slice(before)
            .map((tools) => tools.find((t) => t.name === 'records_list'))
            .find((tool) => tool && !tool.description?.startsWith('DEPRECATED')),
        ),
      'a list_changed notification with records_list 1.2.0',
    );
    expect(Object.keys(upgraded.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['due_before', 'cursor']),
    );
    const result = await client.callTool({ name: 'records_list', arguments: { due_before: '2026-01-01' } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ records: [], next_cursor: null });
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

  it('records_list 1.2.0: following next_cursor reaches every record once while others write between pages', async () => {
    const client = await connect();
    const call = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args });
      expect(result.isError, JSON.stringify(result.structuredContent)).toBeFalsy();
      return result.structuredContent as Record<string, unknown>;
    };
    const list = async (args: Record<string, unknown>) =>
      (await call('records_list', args)) as { records: { id: string }[]; next_cursor: string | null };
    const create = async (key: string) =>
      ((await call('records_create', { title: key, idempotency_key: key })) as { record: { id: string } })
        .record.id;
    const remove = (id: string) => call('records_delete', { id, idempotency_key: `delete-${id}` });
    const items = Array.from({ length: 24 }, (_, i) => ({ title: `paged-${i}` }));
    await call('records_bulk_create', { items, idempotency_key: 'paged-fill-key' });
    const initial = (await list({ limit: 100 })).records.map((r) => r.id);
    const deleted = new Set<string>();
    const unread: string[] = [];
    const inserted: string[] = [];
    const seen: string[] = [];
    let page = await list({ limit: 5 });
    let calls = 1;
    for (;;) {
      seen.push(...page.records.map((r) => r.id));
      if (page.next_cursor === null) break;
      // Between pages: the page's last record (where the cursor points) and one not read yet go,
      // and a new record comes.
      const ahead = initial.find((id) => !deleted.has(id) && !seen.includes(id));
      for (const id of [page.records.at(-1)!.id, ...(ahead ? [ahead] : [])]) {
        await remove(id);
        deleted.add(id);
      }
      if (ahead) unread.push(ahead);
      inserted.push(await create(`inserted-${calls}-key`));
      page = await list({ limit: 5, cursor: page.next_cursor });
      calls++;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const throughout = initial.filter((id) => !deleted.has(id));
    expect(seen.filter((id) => throughout.includes(id))).toEqual(throughout);
    expect(unread.length).toBeGreaterThan(2);
    expect(seen.filter((id) => unread.includes(id))).toEqual([]);
    expect(seen.filter((id) => inserted.includes(id))).toEqual(inserted);
    // The end came with the last records, not on an empty page after them.
    expect(page.records.length).toBeGreaterThan(0);
    expect(calls).toBe(Math.ceil(seen.length / 5));
    // A last page exactly full ends the list; one record fewer leaves a cursor to it.
    const all = (await list({ limit: 100 })).records.length;
    expect(await list({ limit: all })).toMatchObject({ next_cursor: null });
    const short = await list({ limit: all - 1 });
    expect(short.next_cursor).not.toBeNull();
    expect(await list({ limit: all, cursor: short.next_cursor })).toMatchObject({
      records: [expect.anything()],
      next_cursor: null,
    });
    // A cursor goes on in its own order: without it, refused before it reaches the container.
    const newest = await list({ limit: 1, order: 'newest_first' });
    const refused = await client.callTool({
      name: 'records_list',
      arguments: { cursor: newest.next_cursor },
    });
    expect(refused.structuredContent).toMatchObject({ error: { code: 'invalid_arguments' } });
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
