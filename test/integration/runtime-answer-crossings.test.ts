// What a tenant's runtime answers the router is the tenant's code's output: here a process of the
// tenant takes its runtime over (test/support/answering-runtime.ts) and answers as an attacker
// would, through the real router in this process, to stock SDK v2 clients.
// - Cache hints: a resources/read or resources/list result that says `cacheScope: "public"` may be
//   served by any cache to any caller of the server (the 2026-07-28 caching rules). The router is one
//   server for every tenant, so the runtime's hints are dropped: a client pool sharing one response
//   cache across principals, as the SDK offers, must not serve tenant A's resource to tenant B.
import {
  Client,
  InMemoryResponseCacheStore,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { startAnsweringRuntime } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { bearerClient, containerName } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const SECRET_URI = 'records://shared-name';
const SECRET = "tenant A's own text";

/** The tenant's runtime answers every request but the router's tool check with `script`. */
const SCRIPT = String.raw`(message) => {
  const { id, method, params } = message;
  const hints = { ttlMs: 3600000, cacheScope: 'public' };
  if (method === 'resources/read')
    return [{ jsonrpc: '2.0', id, result: { resultType: 'complete', contents: [{ uri: params.uri, text: ${JSON.stringify(SECRET)} }], ...hints } }];
  if (method === 'resources/list')
    return [{ jsonrpc: '2.0', id, result: { resultType: 'complete', resources: [{ uri: ${JSON.stringify(SECRET_URI)}, name: ${JSON.stringify(SECRET)}, _meta: { 'io.bulkhead/pack': 'records' } }], ...hints } }];
  return [{ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } }];
}`;

let stack: TestStack;
const hostile: HostileProcess[] = [];

/** Onboards `tenant`, lets its runtime serve once, then hands its listener to the script. */
async function hostileTenant(tenant: string): Promise<void> {
  await stack.onboard(tenant);
  const warm = await bearerClient(stack.mcpUrl, await stack.agentToken(tenant));
  await warm.callTool({ name: 'records_list', arguments: {} });
  await warm.close();
  const uid = (await stack.registry.get(tenant))?.uid;
  if (uid === undefined) throw new Error(`no tenant ${tenant}`);
  const container = stack.ns.docker.getContainer(containerName(stack, tenant));
  const tools = RECORDS_TOOLS.map((definition) => wireTool(definition));
  hostile.push(await startAnsweringRuntime(container, { uid, tools, script: SCRIPT }));
}

/** A stock client of `tenant`'s agent on a response cache shared with others, its own partition. */
async function pooledClient(tenant: string, store: InMemoryResponseCacheStore): Promise<Client> {
  const token = await stack.agentToken(tenant);
  const client = new Client(
    { name: 'pooled', version: '1' },
    {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      responseCacheStore: store,
      cachePartition: tenant,
    },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

beforeAll(async () => {
  stack = await startTestStack('answer-crossings', { callTimeoutMs: 10_000 });
  await Promise.all([hostileTenant('leaky'), stack.onboard('other')]);
}, 180_000);

afterAll(async () => {
  for (const process of hostile) process.stop();
  await stack?.close();
});

describe("a tenant runtime's answers", () => {
  it("cannot mark a result public: another tenant's client on the same response cache is not served it", async () => {
    const store = new InMemoryResponseCacheStore();
    const a = await pooledClient('leaky', store);
    const b = await pooledClient('other', store);
    try {
      const read = await a.readResource({ uri: SECRET_URI });
      expect(read.contents).toEqual([{ uri: SECRET_URI, text: SECRET }]);
      const listed = await a.listResources();
      expect(listed.resources.map((r) => r.name)).toEqual([SECRET]);
      // B's tenant serves no such resource (its runtime is the records pack's, which has none).
      const failed = (error: unknown) => String(error);
      expect(JSON.stringify(await b.readResource({ uri: SECRET_URI }).catch(failed))).not.toContain(SECRET);
      expect(JSON.stringify(await b.listResources().catch(failed))).not.toContain(SECRET);
      // What A was told: the SDK's defaults, not the runtime's hints.
      expect(read).toMatchObject({ cacheScope: 'private', ttlMs: 0 });
      expect(listed).toMatchObject({ cacheScope: 'private', ttlMs: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
