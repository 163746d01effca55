// A tenant write whose client is alone takes its slot at the concurrency gate and sends its
// idempotency key's claim as its rate-limit take is sent, so that the two round trips overlap
// (router/pipeline/held-ahead.ts); what it took goes back when the call is refused or never handled
// (EarlyAdmission, router/pipeline/call-pipeline.ts). Real Redis holds the claims and the budgets;
// the dispatcher counts its calls and the limiter can hold its takes (fakes at our own ports).
// Every check of Redis goes on the connection the store writes on, so it is answered after every
// command the store sent before it. Last, through the router's real app: a write the SDK refuses
// before its handler runs gives back the claim its admission sent ahead (Redis's MONITOR sees it).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TOOLS } from '../../kernel/packs/records.ts';
import { RateLimiter, type RateDecision, type RateScope } from '../../kernel/ratelimit/rate-limiter.ts';
import type { FlushRequest } from '../../kernel/redis/flush-timing.ts';
import { idempotencyKey } from '../../kernel/redis/keys.ts';
import type { Quotas } from '../../kernel/tenant/tenant-spec.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import type { ToolAnswer } from '../../router/dispatch/call-relay.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import {
  admitCall,
  EarlyAdmission,
  runToolCall,
  type CallPipelineDeps,
  type ToolCall,
} from '../../router/pipeline/call-pipeline.ts';
import { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  startAuthRouter,
} from '../support/auth-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';
import { TEST_QUOTAS } from '../support/stack.ts';
import { agentPrincipal, tenantRecord } from '../support/tenant.ts';
import { until } from '../support/until.ts';

/** While `holding`, takes wait until `release()`; `asked` counts the takes asked for. */
class HeldLimiter extends RateLimiter {
  holding = false;
  asked = 0;
  #waiting: (() => void)[] = [];
  override take(scope: RateScope, request?: FlushRequest): Promise<RateDecision> {
    this.asked += 1;
    if (!this.holding) return super.take(scope, request);
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => super.take(scope, request));
  }
  release(): void {
    this.holding = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** Answers every call itself, counting them (no runtime is reached); while `holding`, later. */
class CountingDispatcher extends TenantDispatcher {
  runs = 0;
  holding = false;
  #waiting: (() => void)[] = [];
  override async callTool(_context: CallContext, name: string): Promise<ToolAnswer> {
    this.runs += 1;
    const run = this.runs;
    if (this.holding) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return { content: [{ type: 'text', text: `${name} ${run}` }] };
  }
  release(): void {
    this.holding = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

const CREATE = RECORDS_TOOLS.find((d) => d.name === 'records_create')!;
const sealer = new RecordSealer('held-ahead test secret');

let ns: TestNamespace;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  ns = await testNamespace('heldahead');
  redis = new Redis(ns.installation.redis);
  prefix = `bulkhead:${ns.namespace}`;
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

function pipeline(options: { maxInFlight?: number } = {}) {
  const limiter = new HeldLimiter({ redis, prefix });
  const gate = new ConcurrencyGate({ maxInFlight: options.maxInFlight ?? 8, maxQueued: 4, maxWaitMs: 5_000 });
  const dispatcher = new CountingDispatcher({
    runtimes: { ensure: () => Promise.reject(new Error('no runtime in this test')) },
    sign: () => Promise.reject(new Error('no runtime in this test')),
    logger: pino({ level: 'silent' }),
  });
  const idempotency = new IdempotencyStore({ redis, prefix, sealer, pollMs: 10 });
  const deps: CallPipelineDeps = { dispatcher, sharedHandlers: new Map(), idempotency, limiter, gate };
  return { limiter, gate, dispatcher, deps };
}

/** When every tenant of this test was created: a write's idempotency scope names it. */
const CREATED_AT = new Date().toISOString();

function write(key: string, alone: boolean, options: { tenant?: string; quotas?: Quotas } = {}): ToolCall {
  const tool = { definition: CREATE, wire: wireTool(CREATE) };
  const tenant = options.tenant ?? 'acme';
  return {
    principal: agentPrincipal(tenant, { scopes: ['records:write'] }),
    tenant: tenantRecord(tenant, { quotas: options.quotas ?? TEST_QUOTAS, createdAt: CREATED_AT }),
    tool,
    visible: () => [tool],
    rawArgs: { title: `record ${key}`, idempotency_key: `key-${key}` },
    log: pino({ level: 'silent' }),
    alone: () => alone,
  };
}

/** The stored state of the claim or result of `write(key)` (`pending`, `done`), undefined without one. */
async function claimState(key: string, tenant = 'acme'): Promise<string | undefined> {
  const keyHash = createHash('sha256').update(`key-${key}`).digest('base64url');
  const place = idempotencyKey(prefix, { tenant, tenantCreatedAt: CREATED_AT, tool: CREATE.name, keyHash });
  const raw = await redis.get(place);
  return raw === null
    ? undefined
    : (JSON.parse(sealer.open(tenant, place, raw) ?? '{}') as { state: string }).state;
}

describe('a tenant write whose client is alone', () => {
  it('has its slot and its claim while its take is still on its way, and runs once', async () => {
    const { limiter, gate, dispatcher, deps } = pipeline();
    limiter.holding = true;
    const answer = runToolCall(write('k-ahead', true), deps);
    await until(() => limiter.asked === 1, 'the take');
    expect(await claimState('k-ahead')).toBe('pending');
    expect(gate.load('acme')).toEqual({ inFlight: 1, queued: 0 });
    expect(dispatcher.runs).toBe(0);
    limiter.release();
    const result = await answer;
    expect(result.isError).toBeFalsy();
    expect(dispatcher.runs).toBe(1);
    expect(gate.load('acme')).toEqual({ inFlight: 0, queued: 0 });
    await until(async () => (await claimState('k-ahead')) === 'done', 'the stored result');
    // A retry of the key, sent ahead as well, is the first answer again and runs nothing.
    const again = await runToolCall(write('k-ahead', true), deps);
    expect(again.content).toEqual(result.content);
    expect(dispatcher.runs).toBe(1);
  });

  it('claims nothing ahead when its client is not alone: the claim follows the take', async () => {
    const { limiter, gate, dispatcher, deps } = pipeline();
    limiter.holding = true;
    const answer = runToolCall(write('k-not-alone', false), deps);
    await until(() => limiter.asked === 1, 'the take');
    expect(await claimState('k-not-alone')).toBeUndefined();
    expect(gate.load('acme')).toEqual({ inFlight: 0, queued: 0 });
    limiter.release();
    expect((await answer).isError).toBeFalsy();
    expect(dispatcher.runs).toBe(1);
  });

  it('gives its claim and its slot back when the rate limits refuse it', async () => {
    const { limiter, gate, dispatcher, deps } = pipeline();
    // A tenant of its own: its minute's budget is spent here.
    const limited = { tenant: 'acme-limited', quotas: { ...TEST_QUOTAS, callsPerMinute: 1 } };
    expect((await runToolCall(write('k-first', true, limited), deps)).isError).toBeFalsy();
    limiter.holding = true;
    const answer = runToolCall(write('k-refused', true, limited), deps);
    await until(() => limiter.asked === 2, 'the take');
    expect(await claimState('k-refused', limited.tenant)).toBe('pending');
    limiter.release();
    const refused = await answer;
    expect(refused.structuredContent).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    expect(gate.load(limited.tenant)).toEqual({ inFlight: 0, queued: 0 });
    await until(
      async () => (await claimState('k-refused', limited.tenant)) === undefined,
      'the claim given back',
    );
    expect(dispatcher.runs).toBe(1);
  });

  it('takes nothing ahead when it would wait at the gate: it claims once it has a slot', async () => {
    const { gate, dispatcher, deps } = pipeline({ maxInFlight: 1 });
    const busy = gate.tryAcquire('acme')!;
    const answer = runToolCall(write('k-gate', true), deps);
    await until(() => gate.load('acme').queued === 1, 'the call waiting at the gate');
    expect(await claimState('k-gate')).toBeUndefined();
    busy();
    expect((await answer).isError).toBeFalsy();
    expect(dispatcher.runs).toBe(1);
    expect(await claimState('k-gate')).toBeDefined();
    expect(gate.load('acme')).toEqual({ inFlight: 0, queued: 0 });
  });

  it('gives back what an early admission holds when the handler never took it; taken later, it claims again', async () => {
    const { gate, dispatcher, deps } = pipeline();
    const call = write('k-untaken', true);
    const early = new EarlyAdmission(admitCall(call, deps, { holdAhead: true }));
    await until(async () => (await claimState('k-untaken')) === 'pending', 'the claim sent ahead');
    expect(gate.load('acme').inFlight).toBe(1);
    early.settle();
    await until(async () => (await claimState('k-untaken')) === undefined, 'the claim given back');
    expect(gate.load('acme').inFlight).toBe(0);
    // A handler that takes it only now runs the call with a slot and a claim of its own.
    expect((await runToolCall(call, deps, early.take())).isError).toBeFalsy();
    expect(dispatcher.runs).toBe(1);
    expect(gate.load('acme').inFlight).toBe(0);
    await until(async () => (await claimState('k-untaken')) === 'done', 'the stored result');
  });

  it('keeps what a taken early admission holds: settling after the handler took it gives nothing back', async () => {
    const { limiter, gate, dispatcher, deps } = pipeline();
    limiter.holding = true;
    const call = write('k-taken', true);
    const early = new EarlyAdmission(admitCall(call, deps, { holdAhead: true }));
    const answer = runToolCall(call, deps, early.take());
    early.settle();
    await until(() => limiter.asked === 1, 'the take');
    dispatcher.holding = true;
    limiter.release();
    await until(() => dispatcher.runs === 1, 'the dispatch');
    // The first read is answered after the claim, so whatever its answer set off has been sent
    // before the second: a claim given back would be gone by then, while the call still runs.
    await claimState('k-taken');
    expect(await claimState('k-taken')).toBe('pending');
    expect(gate.load('acme').inFlight).toBe(1);
    dispatcher.release();
    expect((await answer).isError).toBeFalsy();
    expect(dispatcher.runs).toBe(1);
    expect(gate.load('acme').inFlight).toBe(0);
    await until(async () => (await claimState('k-taken')) === 'done', 'the stored result');
  });
});

describe('a tenant write refused by the SDK before its handler runs', () => {
  it('gives back the idempotency claim its admission sent ahead with the take', async () => {
    const keyholder = await keyHoldingIssuer();
    const mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const router = await startAuthRouter({
      port: Number(new URL(mcpUrl).port),
      issuers: [{ issuer: keyholder.issuer }],
      tenants: new MemoryTenants([
        tenantRecord('writes', {
          issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
          tools: openToAgentsAlone(['records_create']),
          roles: defaultRoles(),
          quotas: TEST_QUOTAS,
        }),
      ]),
      logger: pino({ level: 'silent' }),
      prefix,
      redis,
    });
    const monitor = await redis.monitor();
    const claims: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const [command, key] = args;
      if (command?.toLowerCase() === 'set' && key?.startsWith(`${prefix}:idem:writes:`)) claims.push(key);
    });
    try {
      const claims0 = { issuer: keyholder.issuer, audience: mcpUrl, agent: 'agent-1', tenant: 'writes' };
      const token = await keyholder.sign(agentClaims(claims0, { scope: 'records:write' }));
      const write = {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'records_create',
          arguments: { title: 'refused', idempotency_key: 'key-refused-by-sdk' },
        },
      };
      // Mcp-Name names another tool than the body's: the SDK refuses the request before any handler.
      const refused = await mcpPost(mcpUrl, token, write, { headers: { 'mcp-name': 'records_list' } });
      expect(refused.status).toBe(400);
      await until(() => claims.length > 0, 'the claim sent ahead');
      expect(claims).toHaveLength(1);
      await until(async () => (await redis.get(claims[0]!)) === null, 'the claim given back');
    } finally {
      monitor.disconnect();
      await router.close();
      await keyholder.close();
    }
  });
});
