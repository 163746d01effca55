// A tool result must be what the output schema the agent was listed says (MCP: a server MUST; a
// stock SDK client throws on a result that breaks it). A runtime we shipped refuses a pack's answer
// that breaks its schema, so here a process of the tenant takes its runtime over
// (test/support/answering-runtime.ts) and answers as a compromised runtime would, through the real
// router in this process, to a stock SDK client: for an approved pack tool (the `counted` fixture
// pack, built, reviewed and approved like an operator's), a result of the wrong type, without a
// required field, with a field the schema refuses or without structured content; and a records
// tool's result with a key its schema does not name. Each is refused with a structured error,
// audited, counted, and the runtime replaced; a conforming result and an error result pass as sent.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { securityCountersKey } from '../../kernel/redis/keys.ts';
import { PackRegistry } from '../../kernel/registry/pack-registry.ts';
import { asPresentedToRouter, wireTool } from '../../kernel/tools/tool-definition.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { startAnsweringRuntime } from '../support/answering-runtime.ts';
import { approveFixturePack, enableFixturePack } from '../support/fixture-pack.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { bearerClient, containerId, containerName } from '../support/mcp-client.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { removeImage } from '../support/pack-image.ts';
import { packImage } from '../../kernel/packs/pack-manifest.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** What the runtime answers the pack tool, by the argument `of`; a records tool gets a leaked key. */
const ANSWERS = {
  conforming: { count: 3, label: 'characters' },
  mistyped: { count: 'three', label: 'characters' },
  unfilled: { count: 3 },
  widened: { count: 3, label: 'characters', extra: 'tenant data' },
};
const SCRIPT = String.raw`(message) => {
  const { id, params } = message;
  const complete = (result) => [{ jsonrpc: '2.0', id, result: { resultType: 'complete', ...result } }];
  const structured = (sc) => complete({ content: [{ type: 'text', text: JSON.stringify(sc) }], structuredContent: sc });
  if (params.name === 'records_list') return structured({ records: [], next_cursor: null, leaked: 'x' });
  const of = params.arguments.of;
  if (of === 'bare') return complete({ content: [{ type: 'text', text: 'no structure' }] });
  if (of === 'failing') return complete({ isError: true, content: [{ type: 'text', text: 'failed' }], structuredContent: { reason: 'x' } });
  return structured(${JSON.stringify(ANSWERS)}[of]);
}`;

/** One tenant per refused answer: each refusal has the runtime replaced. */
const BROKEN = ['mistyped', 'unfilled', 'widened', 'bare'] as const;

let stack: TestStack;
let cp: OpenedControlPlane;
let redis: Redis;
let audit: AuditTrail;
let work: string;
let image: string | undefined;
let tool: string;
const hostile: HostileProcess[] = [];

/** Hands `tenant`'s running runtime to the script; the container's id. */
async function takeOver(tenant: string, packTools: unknown[]): Promise<string> {
  await stack.runtimes.ensure(tenant);
  const uid = (await stack.registry.require(tenant)).uid;
  const container = stack.ns.docker.getContainer(containerName(stack, tenant));
  const tools = [...RECORDS_TOOLS.map((definition) => wireTool(definition)), ...packTools];
  hostile.push(await startAnsweringRuntime(container, { uid, tools, script: SCRIPT }));
  return (await container.inspect()).Id;
}

const taken = new Map<string, string>();

beforeAll(async () => {
  stack = await startTestStack('output-schema', {
    callTimeoutMs: 10_000,
    router: { pinWatchIntervalMs: 100 },
  });
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  work = await mkdtemp(join(tmpdir(), 'bulkhead-output-schema-'));
  cp = await openControlPlane({
    redisUrl: REDIS_URL,
    namespace: stack.ns.namespace,
    secretsKeyFile: join(stack.ns.runDir, 'secrets.key'),
    actor: 'test:output-schema',
  });
  const packTenants = ['conforming', ...BROKEN];
  await Promise.all([...packTenants, 'leaky'].map((tenant) => stack.onboard(tenant)));
  const pin = await approveFixturePack({ stack, cp, name: 'counted', work });
  image = packImage(pin);
  const approval = await new PackRegistry({ redis, prefix: stack.ns.installation.registryPrefix }).require(
    pin,
  );
  tool = approval.tools[0]!.exposed;
  const presented = approval.tools.map((t) => asPresentedToRouter(t.definition));
  await Promise.all(packTenants.map((tenant) => enableFixturePack({ stack, cp, tenant, pin })));
  for (const tenant of packTenants) taken.set(tenant, await takeOver(tenant, presented));
  taken.set('leaky', await takeOver('leaky', []));
}, 420_000);

afterAll(async () => {
  for (const process of hostile) process.stop();
  redis?.disconnect();
  await cp?.close();
  await stack?.close();
  if (image) await removeImage(image);
  if (work) await rm(work, { recursive: true, force: true });
});

/** A stock client of `tenant`'s agent that has listed the tools (and so checks their results). */
async function listedClient(tenant: string): Promise<Client> {
  const client = await bearerClient(stack.mcpUrl, await stack.agentToken(tenant));
  await client.listTools();
  return client;
}

/** Until the container `id` no longer serves `tenant` (the recycle is a job, after the answer). */
async function replaced(tenant: string, id: string): Promise<void> {
  for (let i = 0; i < 300 && (await containerId(stack, tenant)) === id; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await containerId(stack, tenant)).not.toBe(id);
}

async function expectRefused(tenant: string, name: string, args: Record<string, unknown>): Promise<void> {
  const client = await listedClient(tenant);
  try {
    const result = await client.callTool({ name, arguments: args });
    expect(result.structuredContent).toMatchObject({
      error: { error_class: 'transient', code: 'runtime_unavailable' },
    });
    const counted = await redis.hget(
      securityCountersKey(stack.ns.installation.registryPrefix),
      `${tenant}:output_schema`,
    );
    expect(Number(counted)).toBe(1);
    const entries = await audit.entries(tenant);
    expect(entries.filter((e) => e.reason === 'read_bound:output_schema').map((e) => e.tool)).toEqual([name]);
    await replaced(tenant, taken.get(tenant)!);
  } finally {
    await client.close();
  }
}

describe("a tenant runtime's tool result", () => {
  it('that conforms to the approved schema reaches a stock client as sent', async () => {
    const client = await listedClient('conforming');
    try {
      const result = await client.callTool({ name: tool, arguments: { of: 'conforming' } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual(ANSWERS.conforming);
      expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(ANSWERS.conforming) }]);
      // An error result is not held to the schema (MCP allows it any content).
      const failed = await client.callTool({ name: tool, arguments: { of: 'failing' } });
      expect(failed).toMatchObject({ isError: true, structuredContent: { reason: 'x' } });
      expect(await containerId(stack, 'conforming')).toBe(taken.get('conforming'));
      const counters = await redis.hgetall(securityCountersKey(stack.ns.installation.registryPrefix));
      expect(counters['conforming:output_schema']).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it.each(BROKEN)(
    'that breaks the approved schema (%s) is refused: a structured error, audited, counted, the runtime replaced',
    (tenant) => expectRefused(tenant, tool, { of: tenant }),
    60_000,
  );

  it(
    "of a records tool, with a key its listed schema refuses, is refused though zod's would drop it",
    () => expectRefused('leaky', 'records_list', {}),
    60_000,
  );
});
