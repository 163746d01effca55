// A retry storm on one write: a client whose write is slow sends it again with the same idempotency
// key while the first still runs. Each retry waits for the first call's result (it never runs the
// tool), and a waiting retry reaches no container, so it must hold none of its tenant's slots at the
// concurrency gate (kernel/process/concurrency-gate.ts): otherwise one agent's retries of one slow
// write shut every other agent of the tenant out with `concurrency_limit` for as long as that write
// runs (router/pipeline/call-pipeline.ts, router/pipeline/idempotency.ts). The router's real HTTP
// app, stock SDK clients with tokens of a real key-holding issuer, the real dispatcher, signer,
// limiter, gate and idempotency store on real Redis; a scripted runtime on a real unix socket holds
// the write until the test lets it go. A retry whose client cancels as it waits (a 2025 client's
// notifications/cancelled, a 2026 client's closed stream) gives its place aside back at once, or a
// storm of retries given up early would fill the bound with waits nobody reads. Then the store and
// the gate alone (real Redis, the real gate): a retry that waited and finds the key free again (the
// first call failed) takes a slot again before it runs, and a full gate refuses it without a claim
// kept or a failure of the key counted.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { idempotencyFailuresKey, idempotencyKey } from '../../kernel/redis/keys.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { HeldSlot, takeSlot } from '../../router/pipeline/call-slot.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  MemoryTenants,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { startScriptedRuntime, type ScriptedRuntime } from '../support/scripted-runtime.ts';
import { freePort, TEST_QUOTAS } from '../support/stack.ts';
import { agentPrincipal, tenantRecord } from '../support/tenant.ts';
import { until } from '../support/until.ts';

const TENANT = 'storm';
const AT = '2026-12-06T00:00:00.000Z';
/** A record the tool's output schema takes: only its title tells the answers apart. */
const UNSET = { body: '', tags: [], ref: null, quantity: null, start_date: null, due_date: null };
const ID = '00000000-0000-4000-8000-000000000000';
const record = (title: string) => ({ ...UNSET, id: ID, title, createdAt: AT, updatedAt: AT, createdBy: 'a' });

let ns: TestNamespace;
let redis: Redis;
let runtime: ScriptedRuntime;
let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let gate: ConcurrencyGate;
let mcpUrl: string;
let storm: TenantRecord;
/** The tools each call that reached the runtime named, in order. */
const reached: string[] = [];
/** Each records_create's answer waits for this (a slow write). */
let hold: Promise<void> = Promise.resolve();

beforeAll(async () => {
  ns = await testNamespace('idem-wait-slot');
  redis = new Redis(ns.installation.redis);
  runtime = await startScriptedRuntime(async ({ message }, res) => {
    const name = String(message.params.name);
    reached.push(name);
    if (name === 'records_create') await hold;
    const title = name === 'records_create' ? `written ${reached.length}` : 'read';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        jsonrpc: '2.0',
        id: message.id,
        result: {
          resultType: 'complete',
          content: [{ type: 'text', text: title }],
          structuredContent: { record: record(title) },
        },
      }),
    );
  });
  const { privateKey } = generateKeyPairSync('ed25519');
  const sign = await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const logger = pino({ level: 'silent' });
  // Two calls of the tenant at its container at once, one queued behind them; three calls waiting
  // aside for another call of their key (maxInFlight + maxQueued).
  gate = new ConcurrencyGate({ maxInFlight: 2, maxQueued: 1, maxWaitMs: 1_000 });
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants: new MemoryTenants([
      (storm = tenantRecord(TENANT, {
        issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
        tools: openToAgentsAlone(['records_create', 'records_get']),
        roles: defaultRoles(),
        // The day's budget replenishes a call every 86 s: what it has left counts the calls admitted.
        quotas: { ...TEST_QUOTAS, callsPerDay: 1_000 },
      })),
    ]),
    logger,
    prefix: ns.installation.registryPrefix,
    redis,
    // Longer than a test's timeout: a wait that ends is one that ended for its own reason.
    idempotencyWaitMs: 120_000,
    runtimes: {
      dispatcher: new TenantDispatcher({
        runtimes: { ensure: () => Promise.resolve(runtime.endpoint) },
        sign,
        logger,
        callTimeoutMs: 20_000,
      }),
      gate,
    },
  });
});

afterAll(async () => {
  await router?.close();
  await keyholder?.close();
  await runtime?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

/**
 * A stock SDK client of `agent`, an OAuth client of the tenant acting alone: of the 2025 era (a
 * session; a cancel is a `notifications/cancelled`) unless `modern` (a cancel closes the stream).
 */
async function clientOf(agent: string, era: 'legacy' | 'modern' = 'legacy'): Promise<Client> {
  const claims = { issuer: keyholder.issuer, audience: mcpUrl, agent, tenant: TENANT };
  const token = await keyholder.sign(agentClaims(claims, { scope: 'records:read records:write' }));
  const pinned = era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' as const } } } : {};
  const client = new Client({ name: agent, version: '1' }, pinned);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

/** Calls of the tenant admitted so far (taken from its day's budget). */
async function admitted(): Promise<number> {
  const limiter = new RateLimiter({ redis, prefix: ns.installation.registryPrefix });
  const decision = await limiter.peek({ principal: agentPrincipal(TENANT), tenant: storm });
  const day = decision.layers.find((l) => l.layer === 'tenant_day')!;
  return day.limit - day.remaining;
}

const errorCode = (result: { structuredContent?: unknown }) =>
  (result.structuredContent as { error?: { code?: string } } | undefined)?.error?.code;

describe('retries of a write that is still running', () => {
  it("wait for its result without a slot at the gate, so the tenant's other agents are served", async () => {
    let letGo!: () => void;
    hold = new Promise((resolve) => (letGo = resolve));
    const storm = await clientOf('looping-agent');
    const other = await clientOf('other-agent');
    const write = () =>
      storm.callTool({ name: 'records_create', arguments: { title: 'slow', idempotency_key: 'storm-0001' } });

    const first = write();
    const retries: ReturnType<typeof write>[] = [];
    try {
      await until(() => reached.length === 1, 'the first write to reach the runtime');
      // Three retries of it, one after another as a client that timed out would send them, each
      // waiting for the first call's result once admitted.
      for (let i = 0; i < 3; i++) {
        retries.push(write());
        await until(async () => (await admitted()) === i + 2, `retry ${i + 1} to be admitted`);
      }
      await until(() => gate.load(TENANT).inFlight === 1, 'the retries to wait without a slot');
      expect(gate.aside(TENANT)).toBe(3);
      // A fourth retry finds as many waiting aside as may: told at once to come back.
      const fourth = await write();
      expect(errorCode(fourth)).toBe('idempotency_in_progress');
      // Another agent of the tenant: the second slot is still free for its call.
      const read = await other.callTool({
        name: 'records_get',
        arguments: { id: ID },
      });
      expect(errorCode(read)).toBeUndefined();
      expect(reached).toEqual(['records_create', 'records_get']);
    } finally {
      letGo();
      await Promise.allSettled([first, ...retries]);
    }
    const answers = await Promise.all([first, ...retries]);
    // The write ran once; every retry got its result, none a concurrency refusal.
    expect(answers.map(errorCode)).toEqual([undefined, undefined, undefined, undefined]);
    expect(new Set(answers.map((a) => JSON.stringify(a.structuredContent))).size).toBe(1);
    expect(reached.filter((name) => name === 'records_create')).toHaveLength(1);
    expect(gate.load(TENANT).inFlight).toBe(0);
    expect(gate.aside(TENANT)).toBe(0);
    await storm.close();
    await other.close();
  });

  it.each(['legacy', 'modern'] as const)(
    'give their place aside back as soon as their client cancels (%s era), the first call untouched',
    async (era) => {
      let letGo!: () => void;
      hold = new Promise((resolve) => (letGo = resolve));
      const writes = () => reached.filter((name) => name === 'records_create').length;
      const before = writes();
      const looping = await clientOf('looping-agent');
      const giving = await clientOf('giving-up-agent', era);
      const write = (client: Client, signal?: AbortSignal) =>
        client.callTool(
          { name: 'records_create', arguments: { title: 'slow', idempotency_key: `storm-0002-${era}` } },
          { signal },
        );
      const first = write(looping);
      let firstAnswered = false;
      first.finally(() => (firstAnswered = true)).catch(() => undefined);
      const cancels = [0, 1, 2].map(() => new AbortController());
      let last: ReturnType<typeof write> | undefined;
      try {
        await until(() => writes() === before + 1, 'the first write to reach the runtime');
        // As many retries as may wait aside, one after another (all at once, the gate would queue or
        // refuse some), each given up by its client as it waits.
        const given: ReturnType<typeof write>[] = [];
        for (const cancel of cancels) {
          given.push(write(giving, cancel.signal));
          given.at(-1)!.catch(() => undefined);
          await until(() => gate.aside(TENANT) === given.length, `retry ${given.length} to wait aside`);
        }
        for (const c of cancels) c.abort('the agent gave up');
        for (const g of given) await expect(g).rejects.toThrow();
        // The waits end (the store's wait outlasts this test): the places aside are free again
        // while the first write still runs, and a retry whose client stays waits in one of them.
        await until(() => gate.aside(TENANT) === 0, 'the cancelled retries to give their places back');
        expect(firstAnswered).toBe(false);
        last = write(looping);
        await until(() => gate.aside(TENANT) === 1, 'a later retry to wait aside, not be refused');
      } finally {
        letGo();
        await Promise.allSettled([first, last]);
      }
      const answers = await Promise.all([first, last]);
      // The write ran once; the later retry got its stored result.
      expect(answers.map(errorCode)).toEqual([undefined, undefined]);
      expect(JSON.stringify(answers[1].structuredContent)).toBe(JSON.stringify(answers[0].structuredContent));
      expect(writes()).toBe(before + 1);
      expect(gate.load(TENANT).inFlight).toBe(0);
      expect(gate.aside(TENANT)).toBe(0);
      await looping.close();
      await giving.close();
    },
  );
});

describe('a retry that waited, once the first call of its key failed', () => {
  const scope = (key: string) => ({
    tenant: TENANT,
    tenantCreatedAt: AT,
    tool: 'records_create',
    key,
    digest: 'd',
  });
  const place = (key: string) => ({
    tenant: TENANT,
    tenantCreatedAt: AT,
    tool: 'records_create',
    keyHash: createHash('sha256').update(key).digest('base64url'),
  });

  /** The store and a gate of two slots; the first call of `key` runs until `fail()`, then fails. */
  async function firstCallFailing(key: string) {
    const prefix = ns.installation.registryPrefix;
    const store = new IdempotencyStore({
      redis,
      prefix,
      sealer: new RecordSealer('retake secret'),
      pollMs: 10,
    });
    const slots = new ConcurrencyGate({ maxInFlight: 2, maxQueued: 0, maxWaitMs: 1_000 });
    const slotOf = async () => {
      const taken = await takeSlot(slots, TENANT, () => undefined);
      if ('refused' in taken) throw new Error('the gate refused a slot the test needs');
      return new HeldSlot({ gate: slots, tenant: TENANT, release: taken.release });
    };
    let fail!: () => void;
    const failing = new Promise<void>((resolve) => (fail = resolve));
    const firstSlot = await slotOf();
    const first = store.run(
      scope(key),
      async () => {
        await failing;
        return toolError('runtime_unavailable', 'down', { retry_after_ms: 1_000 });
      },
      { slot: firstSlot },
    );
    await until(() => slots.load(TENANT).inFlight === 1, 'the first call to hold its slot');
    return { store, slots, slotOf, fail, first, firstSlot, prefix };
  }

  it('takes a slot again before it runs', async () => {
    const { store, slots, slotOf, fail, first, firstSlot } = await firstCallFailing('retake-0001');
    const retrySlot = await slotOf();
    let inFlightWhileRunning = 0;
    const retry = store.run(
      scope('retake-0001'),
      () => {
        inFlightWhileRunning = slots.load(TENANT).inFlight;
        return Promise.resolve({ content: [{ type: 'text', text: 'the retry ran' }] });
      },
      { slot: retrySlot },
    );
    // Waiting for the first call, the retry holds no slot: it waits aside.
    await until(() => slots.load(TENANT).inFlight === 1, 'the retry to give its slot back');
    expect(slots.aside(TENANT)).toBe(1);
    fail();
    expect((await first).isError).toBe(true);
    expect((await retry).content).toEqual([{ type: 'text', text: 'the retry ran' }]);
    // It ran holding a slot of its own beside the first call's (not yet given back by its caller).
    expect(inFlightWhileRunning).toBe(2);
    firstSlot.end();
    retrySlot.end();
    expect(slots.load(TENANT).inFlight).toBe(0);
  });

  it('is refused by a full gate: its claim given back, no failure of its key counted', async () => {
    const { store, slots, slotOf, fail, first, firstSlot, prefix } = await firstCallFailing('retake-0002');
    const retrySlot = await slotOf();
    let retryRuns = 0;
    const retry = store.run(
      scope('retake-0002'),
      () => {
        retryRuns += 1;
        return Promise.resolve({ content: [{ type: 'text', text: 'ran' }] });
      },
      { slot: retrySlot },
    );
    await until(() => slots.load(TENANT).inFlight === 1, 'the retry to give its slot back');
    // Another call of the tenant takes the slot the retry gave back: the gate is full.
    const other = await slotOf();
    fail();
    await first;
    const refused = await retry;
    expect(refused.structuredContent).toMatchObject({ error: { code: 'concurrency_limit' } });
    expect(retryRuns).toBe(0);
    expect(await redis.get(idempotencyKey(prefix, place('retake-0002')))).toBeNull();
    // One failure: the first call's; the retry never ran.
    expect(await redis.get(idempotencyFailuresKey(prefix, place('retake-0002')))).toBe('1');
    firstSlot.end();
    other.end();
    retrySlot.end();
    expect(slots.load(TENANT).inFlight).toBe(0);
    expect(slots.aside(TENANT)).toBe(0);
  });

  it("waits aside only within the gate's bound; past it, told at once to come back", async () => {
    const { store, slots, fail, first, firstSlot } = await firstCallFailing('retake-0003');
    let runs = 0;
    const execute = () => Promise.resolve({ content: [{ type: 'text' as const, text: `run ${++runs}` }] });
    // Retries that hold no slot, as after the gate: maxInFlight + maxQueued (2) may wait aside.
    const held: HeldSlot[] = [];
    const retry = () => {
      const slot = new HeldSlot({ gate: slots, tenant: TENANT, release: undefined });
      held.push(slot);
      return store.run(scope('retake-0003'), execute, { slot });
    };
    const waiting = [retry(), retry()];
    await until(() => slots.aside(TENANT) === 2, 'two retries to wait aside');
    const third = await retry();
    expect(third.structuredContent).toMatchObject({
      error: { code: 'idempotency_in_progress', retry_after_ms: 1_000 },
    });
    expect(slots.aside(TENANT)).toBe(2);
    fail();
    await first;
    firstSlot.end();
    // The first call failed: one waiting retry claims the key and runs, the other gets its result.
    const answers = await Promise.all(waiting);
    expect(runs).toBe(1);
    expect(answers.map((a) => a.content)).toEqual([
      [{ type: 'text', text: 'run 1' }],
      [{ type: 'text', text: 'run 1' }],
    ]);
    for (const slot of held) slot.end();
    expect(slots.load(TENANT).inFlight).toBe(0);
    expect(slots.aside(TENANT)).toBe(0);
  });
});
