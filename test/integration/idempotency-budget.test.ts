// The byte budget of the results one tenant keeps for replays (router/pipeline/result-keeping.ts,
// kernel/redis/lua/idempotency-keep.lua) on real Redis, through the router's idempotency store:
// kept up to exactly the bound and not a byte past it; a result not kept is still answered, its
// claim given back (a replay reaches the runtime), and told once per run of refusals; expiry frees
// the budget; two routers writing at once keep no more than the bound between them; Redis's own
// MEMORY USAGE of the tenant's keys stays under the bound.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { IdempotencyStore, type IdempotencyOptions } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { KEPT_ENTRY_BYTES, type UnkeptResult } from '../../router/pipeline/result-keeping.ts';
import { idempotencyKey, idempotencyKeptKey, idempotencyKeptTotalsKey } from '../../kernel/redis/keys.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
const sealer = new RecordSealer('idempotency budget test secret');
const RESULT_TEXT = 'r'.repeat(20_000);

function store(options: Partial<IdempotencyOptions> = {}): IdempotencyStore {
  return new IdempotencyStore({ redis, prefix: `bulkhead:${ns.namespace}`, sealer, pollMs: 10, ...options });
}

/** A tenant of its own per test: the same id (so keys have the same length), another creation. */
let created = 0;
function tenantOf(): string {
  created += 1;
  return new Date(Date.UTC(2026, 0, 1, 0, 0, created)).toISOString();
}

const scope = (tenantCreatedAt: string, key: string) => ({
  tenant: 'acme',
  tenantCreatedAt,
  tool: 'records_create',
  key,
  digest: 'd1',
});

function place(tenantCreatedAt: string, key: string): string {
  const keyHash = createHash('sha256').update(key).digest('base64url');
  return idempotencyKey(`bulkhead:${ns.namespace}`, { ...scope(tenantCreatedAt, key), keyHash });
}

/** A runtime that answers every write with a result of the same size, counting its runs. */
function runtime(): { runs: number; execute: () => Promise<CallToolResult> } {
  const state = {
    runs: 0,
    execute: (): Promise<CallToolResult> => {
      state.runs += 1;
      return Promise.resolve({ content: [{ type: 'text', text: RESULT_TEXT }], structuredContent: { n: 1 } });
    },
  };
  return state;
}

/** Whether `key`'s result is kept: its place holds the sealed done record. */
async function kept(tenantCreatedAt: string, key: string): Promise<boolean> {
  const at = place(tenantCreatedAt, key);
  const raw = await redis.get(at);
  return raw !== null && sealer.open('acme', at, raw)?.includes('"state":"done"') === true;
}

/** What Redis holds for the tenant's kept results: each result key and the accounting keys. */
async function memoryOf(tenantCreatedAt: string, keys: string[]): Promise<number> {
  const tenant = { tenant: 'acme', tenantCreatedAt };
  const prefix = `bulkhead:${ns.namespace}`;
  const names = [
    ...keys.map((key) => place(tenantCreatedAt, key)),
    idempotencyKeptKey(prefix, tenant),
    idempotencyKeptTotalsKey(prefix, tenant),
  ];
  let total = 0;
  for (const name of names) total += Number((await redis.call('MEMORY', 'USAGE', name, 'SAMPLES', '0')) ?? 0);
  return total;
}

/** Waits for the result stores sent after the answers (they are not waited for). */
async function settled(): Promise<void> {
  await redis.ping();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * The charge of one result of RESULT_TEXT: Redis's MEMORY USAGE of its key once stored, plus the
 * fixed charge for its accounting entry. Every result here has the same size and key length.
 */
let charge: number;

beforeAll(async () => {
  ns = await testNamespace('idembudget');
  redis = new Redis(ns.installation.redis);
  const probe = tenantOf();
  await store().run(scope(probe, 'k-probe'), runtime().execute);
  await settled();
  const usage = Number(await redis.call('MEMORY', 'USAGE', place(probe, 'k-probe'), 'SAMPLES', '0'));
  expect(usage).toBeGreaterThan(RESULT_TEXT.length);
  charge = usage + KEPT_ENTRY_BYTES;
}, 30_000);

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe("a tenant's byte budget for kept results (real Redis)", () => {
  it('keeps results up to exactly the bound; past it a write is answered, its claim given back', async () => {
    const tenant = tenantOf();
    const unkept: UnkeptResult[] = [];
    const s = store({ maxKeptBytes: 2 * charge, onUnkept: (_scope, told) => unkept.push(told) });
    const r = runtime();
    for (const key of ['k-1', 'k-2', 'k-3', 'k-4']) {
      const answer = await s.run(scope(tenant, key), r.execute);
      expect(answer.content).toEqual([{ type: 'text', text: RESULT_TEXT }]);
    }
    await settled();
    expect(r.runs).toBe(4);
    expect([await kept(tenant, 'k-1'), await kept(tenant, 'k-2')]).toEqual([true, true]);
    // Not kept, and the claim is gone: nothing of the key is left in Redis.
    expect(await redis.exists(place(tenant, 'k-3'), place(tenant, 'k-4'))).toBe(0);
    // Told for each, the first of the run named as such.
    expect(unkept.map((u) => u.first)).toEqual([true, false]);
    expect(unkept[0]).toEqual({ first: true, keptBytes: 2 * charge, maxBytes: 2 * charge });
    // A replay of a kept key is answered from Redis; of a key not kept, it reaches the runtime
    // again (whose own key table answers it: docs/pack-runtime.md, "Idempotency").
    await s.run(scope(tenant, 'k-1'), r.execute);
    expect(r.runs).toBe(4);
    await s.run(scope(tenant, 'k-3'), r.execute);
    expect(r.runs).toBe(5);
    expect(await memoryOf(tenant, ['k-1', 'k-2', 'k-3', 'k-4'])).toBeLessThanOrEqual(2 * charge);
  });

  it('keeps nothing past a bound one byte short of a second result', async () => {
    const tenant = tenantOf();
    const s = store({ maxKeptBytes: 2 * charge - 1 });
    const r = runtime();
    await s.run(scope(tenant, 'k-1'), r.execute);
    await s.run(scope(tenant, 'k-2'), r.execute);
    await settled();
    expect([await kept(tenant, 'k-1'), await kept(tenant, 'k-2')]).toEqual([true, false]);
  });

  it('frees the budget as results expire, and tells of the next run of refusals again', async () => {
    const tenant = tenantOf();
    const unkept: UnkeptResult[] = [];
    const s = store({ maxKeptBytes: charge, windowMs: 1_500, onUnkept: (_scope, told) => unkept.push(told) });
    const r = runtime();
    await s.run(scope(tenant, 'k-1'), r.execute);
    await s.run(scope(tenant, 'k-2'), r.execute);
    await settled();
    expect([await kept(tenant, 'k-1'), await kept(tenant, 'k-2')]).toEqual([true, false]);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    await s.run(scope(tenant, 'k-3'), r.execute);
    await s.run(scope(tenant, 'k-4'), r.execute);
    await settled();
    expect([await kept(tenant, 'k-3'), await kept(tenant, 'k-4')]).toEqual([true, false]);
    const totals = idempotencyKeptTotalsKey(`bulkhead:${ns.namespace}`, {
      tenant: 'acme',
      tenantCreatedAt: tenant,
    });
    expect(Number(await redis.hget(totals, 'bytes'))).toBe(charge);
    expect(unkept.map((u) => u.first)).toEqual([true, true]);
  });

  it('keeps no more than the bound between two routers writing at once', async () => {
    const tenant = tenantOf();
    const other = new Redis(ns.installation.redis);
    try {
      const first = store({ maxKeptBytes: 3 * charge });
      const second = store({ redis: other, maxKeptBytes: 3 * charge });
      const r = runtime();
      const keys = Array.from({ length: 12 }, (_, i) => `k-${String(i).padStart(2, '0')}`);
      const answers = await Promise.all(
        keys.map((key, i) => (i % 2 === 0 ? first : second).run(scope(tenant, key), r.execute)),
      );
      expect(answers.map((a) => (a as CallToolResult).content)).toEqual(
        keys.map(() => [{ type: 'text', text: RESULT_TEXT }]),
      );
      await settled();
      await other.ping();
      const keptKeys = (await Promise.all(keys.map((key) => kept(tenant, key)))).filter(Boolean);
      expect(keptKeys).toHaveLength(3);
      expect(await memoryOf(tenant, keys)).toBeLessThanOrEqual(3 * charge);
    } finally {
      other.disconnect();
    }
  });

  it("keeps another tenant's results while one is at its bound", async () => {
    const full = tenantOf();
    const bystander = tenantOf();
    const s = store({ maxKeptBytes: charge });
    const r = runtime();
    await s.run(scope(full, 'k-1'), r.execute);
    await s.run(scope(full, 'k-2'), r.execute);
    await s.run(scope(bystander, 'k-1'), r.execute);
    await settled();
    expect([await kept(full, 'k-2'), await kept(bystander, 'k-1')]).toEqual([false, true]);
  });
});
