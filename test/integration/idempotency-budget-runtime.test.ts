// The byte budget of kept write results (router/pipeline/result-keeping.ts) through the real router,
// real Redis and real tenant containers, to stock SDK v2 clients. A hostile tenant's runtime
// (test/support/answering-runtime.ts) answers every records_create with 500 KB of text: Redis's
// memory for that tenant's results stays under the router's bound, its caller still gets every
// answer, and a replay of a write whose result was not kept reaches the runtime again (the router
// does not answer it itself), while a replay of a kept one does not. An honest tenant whose large
// bulk writes pass the bound is answered a replay by its runtime's own key table: the same records,
// none written twice. A bystander's writes are kept and replayed all along.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../kernel/redis/keys.ts';
import { answerRecordsAs } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const BUDGET = 4 * 1024 * 1024;
const HOSTILE_TEXT_BYTES = 500_000;

/** Every records_create: a valid record named after its key and how often the key came, and 500 KB. */
const SCRIPT = String.raw`(message) => {
  const { id, params } = message;
  const key = params.arguments.idempotency_key;
  globalThis.calls = globalThis.calls || {};
  const n = (globalThis.calls[key] = (globalThis.calls[key] || 0) + 1);
  const at = '2026-12-06T00:00:00.000Z';
  const record = { id: '00000000-0000-4000-8000-000000000000', title: key + ' call ' + n, body: '', tags: [],
    ref: null, quantity: null, start_date: null, due_date: null, createdAt: at, updatedAt: at, createdBy: 'hostile' };
  return [{ jsonrpc: '2.0', id, result: { resultType: 'complete',
    content: [{ type: 'text', text: 'x'.repeat(${HOSTILE_TEXT_BYTES}) }], structuredContent: { record } } }];
}`;

let stack: TestStack;
let redis: Redis;
let hostile: HostileProcess | undefined;
const logLines: Record<string, unknown>[] = [];

/** Redis's MEMORY USAGE of every key of `tenant`'s results and their accounting. */
async function resultMemory(tenant: string): Promise<number> {
  const prefix = stack.ns.installation.registryPrefix;
  const names: string[] = [];
  for (const pattern of [`${prefix}:idem:${tenant}:*`, `${prefix}:idem-kept:${tenant}:*`]) {
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      names.push(...batch.filter((name) => !name.endsWith(':failures')));
      cursor = next;
    } while (cursor !== '0');
  }
  let total = 0;
  for (const name of names) total += Number((await redis.call('MEMORY', 'USAGE', name, 'SAMPLES', '0')) ?? 0);
  return total;
}

/** Where the router keeps `tenant`'s result of `tool` for `key` (kernel/redis/keys.ts). */
async function placeOf(tenant: string, tool: string, key: string): Promise<string> {
  const record = await stack.registry.get(tenant);
  const keyHash = createHash('sha256').update(key).digest('base64url');
  const prefix = stack.ns.installation.registryPrefix;
  return idempotencyKey(prefix, { tenant, tenantCreatedAt: record?.createdAt ?? '', tool, keyHash });
}

function titleOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.structuredContent as { record: { title: string } }).record.title;
}

async function create(
  client: Client,
  key: string,
  title = key,
): Promise<Awaited<ReturnType<Client['callTool']>>> {
  return client.callTool({ name: 'records_create', arguments: { title, idempotency_key: key } });
}

beforeAll(async () => {
  const logger = pino(
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  stack = await startTestStack('idem-budget', {
    logger,
    callTimeoutMs: 15_000,
    router: { idempotencyResultBytes: BUDGET, metricsPort: 0, metricsTenantLabel: true },
  });
  redis = new Redis(stack.ns.installation.redis);
  await Promise.all([stack.onboard('hostile'), stack.onboard('honest'), stack.onboard('bystander')]);
  hostile = await answerRecordsAs(stack, 'hostile', SCRIPT);
}, 180_000);

afterAll(async () => {
  hostile?.stop();
  redis?.disconnect();
  await stack?.close();
});

describe('the byte budget of kept write results', () => {
  it("bounds what a hostile runtime's large answers keep in Redis; every caller is answered", async () => {
    const client = await agentClient(stack, 'hostile');
    const bystander = await agentClient(stack, 'bystander');
    try {
      const keys = Array.from({ length: 12 }, (_, i) => `hostile-${String(i).padStart(2, '0')}`);
      for (const key of keys) {
        const answer = await create(client, key);
        expect(answer.isError, JSON.stringify(answer.structuredContent)).toBeFalsy();
        expect(titleOf(answer)).toBe(`${key} call 1`);
        expect((answer.content as { text: string }[])[0]?.text).toHaveLength(HOSTILE_TEXT_BYTES);
      }
      const memory = await resultMemory('hostile');
      // 12 answers of 500 KB were 9 MB to keep; a few of them fit (about 770 KB each, sealed).
      expect(memory).toBeLessThanOrEqual(BUDGET);
      expect(memory).toBeGreaterThan(BUDGET / 2);
      const places = await Promise.all(keys.map((key) => placeOf('hostile', 'records_create', key)));
      const keptCount = (await Promise.all(places.map((place) => redis.exists(place)))).filter(
        Boolean,
      ).length;
      // The first keys' results were kept: their replays never reach the runtime. The last ones'
      // were not: their replays reach it again (a runtime's own key table answers them there).
      expect(titleOf(await create(client, keys[0] ?? ''))).toBe(`${keys[0]} call 1`);
      expect(titleOf(await create(client, keys[11] ?? ''))).toBe(`${keys[11]} call 2`);
      // Another tenant's writes are still kept and replayed.
      const first = await create(bystander, 'bystander-1');
      expect(titleOf(first)).toBe('bystander-1');
      const replay = await create(bystander, 'bystander-1');
      expect(replay.structuredContent).toEqual(first.structuredContent);
      expect(await resultMemory('bystander')).toBeGreaterThan(0);
      // Told: one warning for the run of refusals, and a count of each write not kept.
      const warned = logLines.filter((line) => line.event === 'idempotency_results_unkept');
      expect(warned).toMatchObject([{ tenant: 'hostile', tool: 'records_create', maxBytes: BUDGET }]);
      const metrics = await (await fetch(stack.router.metricsUrl ?? '')).text();
      const unkept =
        /bulkhead_idempotency_results_unkept_total\{tenant="hostile",tool="records_create"\} (\d+)/.exec(
          metrics,
        );
      // Each write past the bound was not kept, and neither was the 12th key's replay.
      expect(keptCount).toBeGreaterThan(0);
      expect(Number(unkept?.[1])).toBe(keys.length - keptCount + 1);
      expect(metrics).not.toContain('bulkhead_idempotency_results_unkept_total{tenant="bystander"');
    } finally {
      await client.close();
      await bystander.close();
    }
  });

  it("answers a replay whose result was not kept from the runtime's key table: nothing written twice", async () => {
    const client = await agentClient(stack, 'honest');
    try {
      const body = 'b'.repeat(10_000);
      const bulk = (batch: number) =>
        client.callTool({
          name: 'records_bulk_create',
          arguments: {
            items: Array.from({ length: 50 }, (_, i) => ({ title: `big ${batch}-${i}`, body })),
            idempotency_key: `honest-batch-${batch}`,
          },
        });
      // About 1.4 MB kept for each: the fourth is past the 4 MiB bound.
      const answers = [];
      for (let batch = 0; batch < 4; batch++) {
        const answer = await bulk(batch);
        expect(answer.isError, JSON.stringify(answer.structuredContent)).toBeFalsy();
        answers.push(answer);
      }
      expect(await resultMemory('honest')).toBeLessThanOrEqual(BUDGET);
      // The router holds nothing of the last batch's key: its replay is not answered from Redis.
      expect(await redis.exists(await placeOf('honest', 'records_bulk_create', 'honest-batch-3'))).toBe(0);
      const replayed = await bulk(3);
      expect(replayed.structuredContent).toEqual(answers[3]?.structuredContent);
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.callTool({
          name: 'records_list',
          arguments: { limit: 100, ...(cursor ? { cursor } : {}) },
        });
        const content = page.structuredContent as {
          records: { title: string }[];
          next_cursor: string | null;
        };
        listed.push(...content.records.map((record) => record.title));
        cursor = content.next_cursor ?? undefined;
      } while (cursor);
      expect(listed).toHaveLength(200);
      expect(new Set(listed).size).toBe(200);
    } finally {
      await client.close();
    }
  });
});
