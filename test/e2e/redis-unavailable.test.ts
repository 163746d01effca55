// Redis stopped under load (docs/rate-limits.md, "Redis unavailable"): the whole stack (router,
// supervisor, a real tenant container) on a redis-server of this test's own, never the shared one.
// While it is down, every tools/call is answered within the router's state deadline (plus a margin
// for the machine): writes and tenant reads as `transient` `state_unavailable`, never dispatched
// without their idempotency claim; the read-only shared tool `whoami` is served (this router is
// configured to fail open for those). When Redis is back on the same port, service resumes, the
// refused writes retried with the same keys succeed, every title is in the tenant's store once, and
// the store's rows are counted against the writes acknowledged.
// Then Redis frozen (SIGSTOP: connections open, no answers): each Redis step waits the deadline,
// and a tools/list is answered without its listing budgets, which it has again once Redis is back.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { bearerClient, volumeTitles } from '../support/mcp-client.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'redisdown';
const DEADLINE_MS = 1_000;
// Above the deadline: the call's other steps and a loaded 2-core machine (a load of 10 stretches a
// second's work to several). A hang (what this guards against) lasts tens of seconds.
const MARGIN_MS = 8_000;
const PASSWORD = `pw-${randomUUID()}`;

let redis: PrivateRedis;
let stack: TestStack;
let client: Client;

interface Outcome {
  tool: string;
  title?: string;
  key?: string;
  ms: number;
  ok: boolean;
  errorClass?: string;
  code?: string;
  budget: boolean;
  redisDown: boolean;
}

async function call(
  tool: string,
  args: Record<string, unknown>,
  redisDown: boolean,
  via: Client = client,
): Promise<Outcome> {
  const started = performance.now();
  let ok = false;
  let error: { error_class?: string; code?: string } | undefined;
  let budget = false;
  try {
    const result = await via.callTool({ name: tool, arguments: args });
    ok = !result.isError;
    budget = result._meta?.['io.bulkhead/budget'] !== undefined;
    error = (result.structuredContent as { error?: typeof error } | undefined)?.error;
  } catch (thrown) {
    error = { error_class: 'thrown', code: String(thrown) };
  }
  const ms = performance.now() - started;
  return { tool, ms, ok, budget, redisDown, errorClass: error?.error_class, code: error?.code };
}

/** Every write the test sent, with its answer: what the tenant's store is counted against. */
const sent: Outcome[] = [];

function create(title: string, key: string, redisDown: boolean): Promise<Outcome> {
  return call('records_create', { title, idempotency_key: key }, redisDown).then((o) => {
    const outcome = { ...o, title, key };
    sent.push(outcome);
    return outcome;
  });
}

beforeAll(async () => {
  redis = await startPrivateRedis({ password: PASSWORD, persistent: true });
  stack = await startTestStack('redisdown', {
    redisUrl: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
    router: { stateDeadlineMs: DEADLINE_MS, failOpenSharedReads: true },
  });
  await stack.onboard(TENANT);
  client = await bearerClient(stack.mcpUrl, await stack.agentToken(TENANT));
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.close();
  await redis?.stop();
});

async function timedList(): Promise<{ ms: number; listed: Awaited<ReturnType<Client['listTools']>> }> {
  const started = performance.now();
  const listed = await client.listTools();
  return { ms: performance.now() - started, listed };
}

describe('Redis unavailable', () => {
  it('answers every call within the deadline, fails writes closed, and writes nothing twice', async () => {
    const before = await create(`up-${randomUUID()}`, `key-${randomUUID()}`, false);
    expect(before).toMatchObject({ ok: true, budget: true });

    const outcomes: Outcome[] = [];
    let down = false;
    let running = true;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const redisDown = down;
        outcomes.push(await create(`w${w}-${i}-${randomUUID()}`, `key-${randomUUID()}`, redisDown));
        outcomes.push(await call(i % 2 ? 'whoami' : 'records_list', {}, redisDown));
      }
    };
    // A 2025-era client holds a session, which the router looks up in Redis on each request.
    const legacy = await bearerClient(stack.mcpUrl, await stack.agentToken(TENANT), 'legacy');
    const load = Promise.all([0, 1, 2, 3].map(worker));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await redis.halt();
    down = true;
    const session = await call('whoami', {}, true, legacy);
    await legacy.close();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    running = false;
    await load;
    // The session cannot be checked: a JSON-RPC error (HTTP 503), not a hang or a bare 500.
    expect(session.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    expect(session).toMatchObject({ ok: false, errorClass: 'thrown' });
    expect(session.code).toContain("the router's shared state (Redis) did not answer");

    // The requirement itself: no call hangs, whatever Redis does.
    for (const o of outcomes)
      expect(o.ms, `${o.tool} took ${Math.round(o.ms)} ms`).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    const duringOutage = outcomes.filter((o) => o.redisDown);
    const writes = duringOutage.filter((o) => o.tool === 'records_create');
    expect(writes.length).toBeGreaterThan(3);
    for (const w of writes)
      expect(w).toMatchObject({ ok: false, errorClass: 'transient', code: 'state_unavailable' });
    for (const r of duringOutage.filter((o) => o.tool === 'records_list'))
      expect(r).toMatchObject({ ok: false, errorClass: 'transient', code: 'state_unavailable' });
    // Fail open: the shared read is served, without a budget (there is none to report).
    const whoamis = duringOutage.filter((o) => o.tool === 'whoami');
    expect(whoamis.length).toBeGreaterThan(0);
    for (const w of whoamis) expect(w).toMatchObject({ ok: true, budget: false });

    await redis.resume();
    let resumed: Outcome | undefined;
    for (let attempt = 0; attempt < 60 && !resumed?.ok; attempt++) {
      resumed = await create(`back-${randomUUID()}`, `key-${randomUUID()}`, false);
      if (!resumed.ok) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(resumed).toMatchObject({ ok: true, budget: true });

    // The writes refused while Redis was down took no claim: retried with their own keys, each
    // succeeds. A write in flight when Redis went away may hold a claim without a stored result
    // (a retry waits for the claim's expiry); it ran once or not at all. Nothing is in the store twice.
    for (const w of writes) {
      const retried = await create(w.title ?? '', w.key ?? '', false);
      expect(retried.ok, `${w.title}: ${retried.code}`).toBe(true);
    }
    const titles = await volumeTitles(stack, TENANT);
    const count = (title: string | undefined): number => titles.filter((t) => t === title).length;
    for (const w of writes) expect(count(w.title)).toBe(1);
    const beforeOutage = outcomes.filter((o) => o.tool === 'records_create' && !o.redisDown);
    expect(beforeOutage.filter((w) => w.ok).length).toBeGreaterThan(0);
    for (const w of beforeOutage) {
      if (w.ok) expect(count(w.title)).toBe(1);
      else expect(count(w.title)).toBeLessThanOrEqual(1);
    }
    // A second retry of each is a replay of the stored answer, not a second row.
    for (const w of writes.slice(0, 3))
      expect((await create(w.title ?? '', w.key ?? '', false)).ok).toBe(true);
    // The store's rows against the acknowledged writes: one row per acknowledged title, at most one
    // per write never acknowledged (in flight when Redis went away), nothing the test did not send.
    const rows = await volumeTitles(stack, TENANT);
    const acknowledged = new Set(sent.filter((o) => o.ok).map((o) => o.title));
    const unanswered = new Set(sent.map((o) => o.title).filter((t) => !acknowledged.has(t)));
    expect(new Set(rows).size, 'a title stored twice').toBe(rows.length);
    for (const title of rows) expect(acknowledged.has(title) || unanswered.has(title), title).toBe(true);
    for (const title of acknowledged) expect(rows, title).toContain(title);
    expect(rows.length).toBeGreaterThanOrEqual(acknowledged.size);
    expect(rows.length).toBeLessThanOrEqual(acknowledged.size + unanswered.size);
  }, 120_000);

  it('bounds each Redis step by the deadline when Redis is up but answers nothing', async () => {
    expect(await create(`warm-${randomUUID()}`, `key-${randomUUID()}`, false)).toMatchObject({ ok: true });
    redis.freeze();
    let answers: Outcome[];
    let listing: { ms: number; listed: Awaited<ReturnType<Client['listTools']>> };
    try {
      [answers, listing] = await Promise.all([
        Promise.all([
          create(`frozen-${randomUUID()}`, `key-${randomUUID()}`, true),
          call('records_list', {}, true),
          call('whoami', {}, true),
        ]),
        timedList(),
      ]);
    } finally {
      redis.thaw();
    }
    // A tools/list is answered without its listing budgets (it runs nothing on a container), after
    // the same three steps at most: docs/rate-limits.md, "Listing".
    expect(listing.ms).toBeLessThan(3 * DEADLINE_MS + MARGIN_MS);
    expect(listing.listed.tools.map((t) => t.name)).toContain('whoami');
    expect(listing.listed._meta?.[BUDGET_META_KEY]).toBeUndefined();
    // A fail-closed call waits for at most two steps (tenant record, rate limits; its audit record is
    // not waited for), a fail-open one three (tenant record, rate limits, audit record).
    for (const a of answers) expect(a.ms, a.tool).toBeLessThan(3 * DEADLINE_MS + MARGIN_MS);
    expect(answers[0]).toMatchObject({ ok: false, errorClass: 'transient', code: 'state_unavailable' });
    expect(answers[1]).toMatchObject({ ok: false, errorClass: 'transient', code: 'state_unavailable' });
    expect(answers[2]).toMatchObject({ ok: true, budget: false });
    let back: Outcome | undefined;
    for (let attempt = 0; attempt < 60 && !back?.ok; attempt++) {
      back = await create(`thawed-${randomUUID()}`, `key-${randomUUID()}`, false);
      if (!back.ok) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(back).toMatchObject({ ok: true, budget: true });
    // Redis back: the listing is taken from its budgets again.
    expect((await timedList()).listed._meta?.[BUDGET_META_KEY]).toHaveProperty('agent_list');
  }, 120_000);
});
