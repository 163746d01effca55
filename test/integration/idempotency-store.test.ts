// The router's idempotency store on real Redis: replay of the stored text, conflict on other
// arguments, concurrent duplicates run once, transient failures release the key (each one doubling
// the caller's wait, and a bounded number of them), the window ends; a result is stored without the
// answer waiting for it, and one that could not be stored leaves the key to its claim's expiry; a
// tenant onboarded again under the same id has keys of its own.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { IdempotencyStore, type IdempotencyOptions } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { idempotencyKey } from '../../kernel/redis/keys.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { until } from '../support/until.ts';

let ns: TestNamespace;
let redis: Redis;
const sealer = new RecordSealer('idempotency store test secret');

/** The store on this test's installation, polling every 10 ms; `options`: the test's own settings. */
function store(options: Partial<IdempotencyOptions> = {}): IdempotencyStore {
  return new IdempotencyStore({ redis, prefix: `bulkhead:${ns.namespace}`, sealer, pollMs: 10, ...options });
}

function counter(): { runs: number; execute: () => Promise<CallToolResult> } {
  const state = {
    runs: 0,
    execute: async (): Promise<CallToolResult> => {
      state.runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        content: [{ type: 'text', text: `run ${state.runs}` }],
        structuredContent: { run: state.runs },
      };
    },
  };
  return state;
}

/** When acme's record was created: the scope's tenant is acme of that time. */
const ACME_CREATED = '2026-12-01T10:00:00.000Z';

const scope = (key: string, digest = 'd1', tenantCreatedAt = ACME_CREATED) => ({
  tenant: 'acme',
  tenantCreatedAt,
  tool: 'records_create',
  key,
  digest,
});

beforeAll(async () => {
  ns = await testNamespace('idemstore');
  redis = new Redis(ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('IdempotencyStore (real Redis)', () => {
  it("never answers a tenant onboarded again under the same id with the earlier tenant's result", async () => {
    const s = store();
    const c = counter();
    const earlier = await s.run(scope('k-again'), c.execute);
    // Acme offboarded and onboarded again within the window: the same key, tool and arguments.
    const again = await s.run(scope('k-again', 'd1', '2026-12-01T11:00:00.000Z'), c.execute);
    expect(c.runs).toBe(2);
    expect(again.structuredContent).toEqual({ run: 2 });
    expect(earlier.structuredContent).toEqual({ run: 1 });
    // Each tenant's own retry replays its own result.
    expect(
      (await s.run(scope('k-again', 'd1', '2026-12-01T11:00:00.000Z'), c.execute)).structuredContent,
    ).toEqual({
      run: 2,
    });
    expect(c.runs).toBe(2);
  });

  it('replays the stored result text and answers other arguments with conflict', async () => {
    const s = store();
    const c = counter();
    const first = await s.run(scope('k-replay'), c.execute);
    const again = await s.run(scope('k-replay'), c.execute);
    expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    expect(c.runs).toBe(1);
    const clash = await s.run(scope('k-replay', 'd2'), c.execute);
    expect(clash.structuredContent).toMatchObject({
      error: { error_class: 'conflict', code: 'idempotency_key_reused' },
    });
    expect(c.runs).toBe(1);
  });

  it('tells a duplicate that outwaits the first call to retry, and the retry gets the stored result', async () => {
    const s = store({ waitMs: 100 });
    let finish: () => void = () => undefined;
    const first = s.run(scope('k-slow'), async () => {
      await new Promise<void>((resolve) => (finish = resolve));
      return { content: [{ type: 'text', text: 'slow done' }] };
    });
    const early = await s.run(scope('k-slow'), () => Promise.reject(new Error('must not run twice')));
    expect(early.structuredContent).toMatchObject({
      error: {
        code: 'idempotency_in_progress',
        error_class: 'transient',
        retryable: true,
        retry_after_ms: 1_000,
      },
    });
    finish();
    await first;
    const retried = await s.run(scope('k-slow'), () => Promise.reject(new Error('must not run twice')));
    expect(retried.content).toEqual([{ type: 'text', text: 'slow done' }]);
  });

  it("renews a running call's claim past its time to live, so a duplicate waits instead of running twice", async () => {
    const s = store({ claimTtlMs: 300 });
    let runs = 0;
    const slow = async (): Promise<CallToolResult> => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return { content: [{ type: 'text', text: `slow run ${runs}` }] };
    };
    const first = s.run(scope('k-renew'), slow);
    await new Promise((resolve) => setTimeout(resolve, 600)); // twice the time to live
    const duplicate = await s.run(scope('k-renew'), slow);
    expect(runs).toBe(1);
    expect(duplicate.content).toEqual([{ type: 'text', text: 'slow run 1' }]);
    expect((await first).content).toEqual([{ type: 'text', text: 'slow run 1' }]);
  });

  it("lets a retry through once a claim's router is gone and stops renewing it", async () => {
    const gone = new Redis(ns.installation.redis);
    const dead = store({ redis: gone, claimTtlMs: 300 });
    // The claim is taken, then the router's connection to Redis is lost mid-call.
    void dead
      .run(scope('k-orphan'), () => new Promise<CallToolResult>(() => undefined))
      .catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    gone.disconnect();
    const c = counter();
    const retried = await store().run(scope('k-orphan'), c.execute);
    expect(c.runs).toBe(1);
    expect(retried.content).toEqual([{ type: 'text', text: 'run 1' }]);
  });

  it('has the result stored before the next command on its connection, without waiting for it', async () => {
    const s = store();
    const c = counter();
    const answered = await s.run(scope('k-ordered'), c.execute);
    // The router's audit append is such a command, and the answer waits for it: a replay that
    // follows the answer finds the result, never the running claim.
    const keyHash = createHash('sha256').update('k-ordered').digest('base64url');
    const key = idempotencyKey(`bulkhead:${ns.namespace}`, {
      tenant: 'acme',
      tenantCreatedAt: ACME_CREATED,
      tool: 'records_create',
      keyHash,
    });
    const raw = await redis.get(key);
    expect(JSON.parse(sealer.open('acme', key, raw ?? '') ?? '{}')).toMatchObject({
      state: 'done',
      digest: 'd1',
    });
    expect(await s.run(scope('k-ordered'), c.execute)).toEqual(answered);
    expect(c.runs).toBe(1);
  });

  it('answers a committed write whose result could not be stored; its key frees when the claim expires', async () => {
    const lost = new Redis(ns.installation.redis);
    const unrecorded: string[] = [];
    const s = store({ redis: lost, claimTtlMs: 300, onUnrecorded: (failed) => unrecorded.push(failed.key) });
    // The connection is lost while the write runs: its result cannot be stored.
    const answered = await s.run(scope('k-unstored'), () => {
      lost.disconnect();
      return Promise.resolve<CallToolResult>({ content: [{ type: 'text', text: 'committed' }] });
    });
    expect(answered.content).toEqual([{ type: 'text', text: 'committed' }]);
    await until(() => unrecorded.length > 0, 'the unstored result to be noted');
    expect(unrecorded).toEqual(['k-unstored']);
    // The claim is no longer renewed: until it expires a retry waits, as for a running duplicate;
    // after, the retry runs (the runtime answers it from its own key table).
    await new Promise((resolve) => setTimeout(resolve, 400));
    const c = counter();
    await store().run(scope('k-unstored'), c.execute);
    expect(c.runs).toBe(1);
  });

  it('runs 20 concurrent duplicates once; each tenant and tool has its own key space', async () => {
    const s = store();
    const c = counter();
    const results = await Promise.all(Array.from({ length: 20 }, () => s.run(scope('k-burst'), c.execute)));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(c.runs).toBe(1);
    await s.run({ ...scope('k-burst'), tenant: 'other' }, c.execute);
    await s.run({ ...scope('k-burst'), tool: 'records_update' }, c.execute);
    expect(c.runs).toBe(3);
  });

  it('releases the key after a transient failure so the retry runs', async () => {
    const s = store();
    let runs = 0;
    const flaky = (): Promise<CallToolResult> => {
      runs += 1;
      return Promise.resolve(
        runs === 1
          ? toolError('runtime_unavailable', 'down')
          : { content: [], structuredContent: { ok: true } },
      );
    };
    expect((await s.run(scope('k-flaky'), flaky)).isError).toBe(true);
    expect((await s.run(scope('k-flaky'), flaky)).structuredContent).toEqual({ ok: true });
    expect(runs).toBe(2);
  });

  it('doubles retry_after_ms with each failure of a key, then refuses it as permanent', async () => {
    const s = store({ maxFailures: 3 });
    let runs = 0;
    const failing = (): Promise<CallToolResult> => {
      runs += 1;
      return Promise.resolve(toolError('runtime_unavailable', 'down', { retry_after_ms: 1_000 }));
    };
    const waits: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await s.run(scope('k-failing'), failing);
      waits.push((result.structuredContent as { error: { retry_after_ms: number } }).error.retry_after_ms);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000]);
    const refused = await s.run(scope('k-failing'), failing);
    expect(refused.structuredContent).toMatchObject({
      error: { error_class: 'permanent', code: 'retry_limit_exceeded', retryable: false },
    });
    expect(runs).toBe(3);
    // Another key of the same tool is not affected; a key that succeeded is not counted.
    const c = counter();
    await s.run(scope('k-fresh'), c.execute);
    expect(c.runs).toBe(1);
  });

  it('forgets results after the configured window', async () => {
    const s = store({ windowMs: 300 });
    const c = counter();
    await s.run(scope('k-window'), c.execute);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await s.run(scope('k-window'), c.execute);
    expect(c.runs).toBe(2);
  });
});
