// The router's idempotency records as Redis holds them (real Redis): sealed, so that whoever reads
// Redis (the console's and the supervisor's connections, a copy of its files) finds neither a
// write's result nor the digest of its arguments; and whoever writes to it cannot have a result
// replayed to another tenant, changed, or forged in the format stored before sealing. A record that
// does not open is given back and the write runs again (the tenant runtime's own key table answers
// a write that already ran), never replayed.
import { createHash } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../kernel/redis/keys.ts';
import { IdempotencyStore, type IdempotencyScope } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
const SECRET = 'idempotency sealing test secret';
const DIGEST = createHash('sha256').update('{"title":"lab result"}').digest('hex');

function store(secret = SECRET): { store: IdempotencyStore; unreadable: IdempotencyScope[] } {
  const unreadable: IdempotencyScope[] = [];
  return {
    store: new IdempotencyStore({
      redis,
      prefix: `bulkhead:${ns.namespace}`,
      sealer: new RecordSealer(secret),
      pollMs: 10,
      onUnreadable: (scope) => unreadable.push(scope),
    }),
    unreadable,
  };
}

const scope = (tenant: string, key: string): IdempotencyScope => ({
  tenant,
  tenantCreatedAt: '2026-12-01T10:00:00.000Z',
  tool: 'records_create',
  key,
  digest: DIGEST,
});

/** The Redis key of a scope's record. */
function place(s: IdempotencyScope): string {
  const keyHash = createHash('sha256').update(s.key).digest('base64url');
  return idempotencyKey(`bulkhead:${ns.namespace}`, { ...s, keyHash });
}

function writer(text: string): { runs: number; execute: () => Promise<CallToolResult> } {
  const state = {
    runs: 0,
    execute: (): Promise<CallToolResult> => {
      state.runs += 1;
      return Promise.resolve({
        content: [{ type: 'text', text: `${text} (run ${state.runs})` }],
        structuredContent: { note: text, run: state.runs },
      });
    },
  };
  return state;
}

/**
 * The record Redis holds for a scope. The store sends its result without the answer waiting for it,
 * on this same connection (`redis`), so a read sent after the answer finds it.
 */
async function stored(s: IdempotencyScope): Promise<string> {
  const raw = await redis.get(place(s));
  if (raw === null) throw new Error(`no record at ${place(s)}`);
  return raw;
}

beforeAll(async () => {
  ns = await testNamespace('idemseal');
  redis = new Redis(ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('idempotency records in Redis (real Redis)', () => {
  it("holds neither the write's result nor its argument digest in clear, and still replays it", async () => {
    const { store: s } = store();
    const w = writer('haemoglobin 13.5 g/dL');
    const first = await s.run(scope('acme', 'k-clear'), w.execute);
    const raw = await stored(scope('acme', 'k-clear'));
    expect(raw.startsWith('v1.')).toBe(true);
    for (const clear of ['haemoglobin', DIGEST, 'done', 'state'])
      expect(raw.includes(clear), `"${clear}" in Redis`).toBe(false);
    // A running claim is sealed too (its digest would otherwise show while the write runs).
    let claim: string | null = null;
    const held = s.run(scope('acme', 'k-claim'), async () => {
      claim = await redis.get(place(scope('acme', 'k-claim')));
      return w.execute();
    });
    await held;
    expect(claim).toMatch(/^v1\./);
    expect(claim).not.toContain(DIGEST);
    const again = await s.run(scope('acme', 'k-clear'), w.execute);
    expect(JSON.stringify(again)).toBe(JSON.stringify(first));
    expect(w.runs).toBe(2); // k-clear once, k-claim once: the replay ran nothing
  });

  it("never replays one tenant's result to another, even with the record copied into its place", async () => {
    const { store: s, unreadable } = store();
    const acme = writer('acme private');
    await s.run(scope('acme', 'k-moved'), acme.execute);
    const raw = await stored(scope('acme', 'k-moved'));
    // Someone with Redis access copies acme's record to where globex's same key would be.
    await redis.set(place(scope('globex', 'k-moved')), raw, 'PX', 60_000);
    const globex = writer('globex own');
    const answer = await s.run(scope('globex', 'k-moved'), globex.execute);
    expect(globex.runs).toBe(1);
    expect(JSON.stringify(answer)).not.toContain('acme private');
    expect(answer.structuredContent).toEqual({ note: 'globex own', run: 1 });
    expect(unreadable.map((u) => u.tenant)).toEqual(['globex']);
    // globex's own record now stands there, and acme's is untouched.
    expect(JSON.stringify(await s.run(scope('globex', 'k-moved'), globex.execute))).toBe(
      JSON.stringify(answer),
    );
    expect((await s.run(scope('acme', 'k-moved'), acme.execute)).structuredContent).toEqual({
      note: 'acme private',
      run: 1,
    });
    expect(acme.runs).toBe(1);
  });

  it('never replays a changed record, a forged one in the format before sealing, or another secret’s', async () => {
    const { store: s, unreadable } = store();
    const w = writer('original');
    await s.run(scope('acme', 'k-changed'), w.execute);
    const raw = await stored(scope('acme', 'k-changed'));
    const bytes = Buffer.from(raw.slice(3), 'base64url');
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x20;
    await redis.set(place(scope('acme', 'k-changed')), `v1.${bytes.toString('base64url')}`, 'PX', 60_000);
    expect((await s.run(scope('acme', 'k-changed'), w.execute)).structuredContent).toEqual({
      note: 'original',
      run: 2,
    });

    const forged = JSON.stringify({
      state: 'done',
      digest: DIGEST,
      result: JSON.stringify({ content: [{ type: 'text', text: 'forged' }] }),
    });
    await redis.set(place(scope('acme', 'k-forged')), forged, 'PX', 60_000);
    const answer = await s.run(scope('acme', 'k-forged'), w.execute);
    expect(JSON.stringify(answer)).not.toContain('forged');
    expect(w.runs).toBe(3);

    // A router with another installation secret (a misconfigured one) cannot read this one's records.
    const other = store(`${SECRET} of another installation`);
    const otherAnswer = await other.store.run(scope('acme', 'k-changed'), w.execute);
    expect(otherAnswer.structuredContent).toEqual({ note: 'original', run: 4 });
    expect(unreadable.map((u) => u.key)).toEqual(['k-changed', 'k-forged']);
    expect(other.unreadable.map((u) => u.key)).toEqual(['k-changed']);
  });
});
