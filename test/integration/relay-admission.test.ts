// A request the router relays to the tenant's runtime (resources/read here; prompts and completion
// go the same way: router/mcp/relay-admission.ts) is admitted and recorded like a tools/call: taken
// from the caller's rate limits on real Redis, given a slot at the tenant's concurrency gate, and left
// in the tenant's real audit trail with a keyed digest of its parameters, never the URI. A scripted
// runtime on a real unix socket answers; the real dispatcher, signer, limiter, gate and trail.
import { generateKeyPairSync } from 'node:crypto';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgsDigester } from '../../kernel/audit/audit-record.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { ClientRequests } from '../../router/mcp/client-requests.ts';
import { createRequestStateSeal } from '../../router/mcp/request-state.ts';
import { createRouterServer, type RouterServerDeps } from '../../router/mcp/router-server.ts';
import { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { AnswerHold } from '../../router/request/answer-hold.ts';
import type { RequestContext } from '../../router/request/request-context.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { startScriptedRuntime, type ScriptedRuntime } from '../support/scripted-runtime.ts';
import { tenantRecord } from '../support/tenant.ts';
import { testPrincipal } from '../support/principal.ts';

const URI = 'records://patient/4711';
const OTHER_PACK_URI = 'notes://readme';

let ns: TestNamespace;
let redis: Redis;
let runtime: ScriptedRuntime;
let deps: RouterServerDeps;
let audit: AuditTrail;
/** Each request's answer waits for the test to let it go (a call holding its slot). */
let hold: Promise<void> = Promise.resolve();
let reached = 0;

beforeAll(async () => {
  ns = await testNamespace('relay-admission');
  redis = new Redis(ns.installation.redis);
  const prefix = ns.installation.registryPrefix;
  runtime = await startScriptedRuntime(async ({ message }, res) => {
    reached += 1;
    await hold;
    res.writeHead(200, { 'content-type': 'application/json' });
    // What the runtime answers for another pack's item (runtime-image/src/packs/pack-surface.ts).
    if (message.params.uri === OTHER_PACK_URI)
      return void res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32602, message: 'served by no pack', data: { code: 'unknown_resource' } },
        }),
      );
    res.end(
      JSON.stringify({
        jsonrpc: '2.0',
        id: message.id,
        result: { resultType: 'complete', contents: [{ uri: URI, text: 'x' }] },
      }),
    );
  });
  const { privateKey } = generateKeyPairSync('ed25519');
  const sign = await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const logger = pino({ level: 'silent' });
  audit = new AuditTrail({ redis, prefix });
  deps = {
    dispatcher: new TenantDispatcher({
      runtimes: { ensure: () => Promise.resolve(runtime.endpoint) },
      sign,
      logger,
      callTimeoutMs: 5_000,
    }),
    sharedHandlers: new Map(),
    idempotency: new IdempotencyStore({ redis, prefix, sealer: new RecordSealer('relay test secret') }),
    limiter: new RateLimiter({ redis, prefix }),
    gate: new ConcurrencyGate({ maxInFlight: 1, maxQueued: 0, maxWaitMs: 1_000 }),
    audit,
    digester: new ArgsDigester('relay test secret'),
    seal: createRequestStateSeal(Buffer.alloc(32, 7)),
    questions: new ClientRequests(),
    // No pack of these tenants is approved: they have no prompts.
    prompts: { promptsFor: () => new Map() },
  };
});

afterAll(async () => {
  await runtime?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

/**
 * A caller of `tenant` who may use the records tools (so reaches the records pack), or none; of a
 * tenant the operator suspended with `suspended`.
 */
function context(tenant: string, options: { reachesPacks: boolean; suspended?: boolean }): RequestContext {
  const served = RECORDS_TOOLS.map((definition) => ({ definition, wire: wireTool(definition) }));
  return {
    principal: testPrincipal({ tenant }),
    // Three calls a minute: the fourth is refused by the tenant's minute.
    tenant: tenantRecord(tenant, {
      quotas: { callsPerMinute: 3, callsPerDay: 100, agentCallsPerMinute: 3, userCallsPerMinute: 3 },
      ...(options.suspended ? { status: 'suspended' as const } : {}),
    }),
    body: undefined,
    served,
    visible: () => (options.reachesPacks ? served : []),
    call: undefined,
    log: pino({ level: 'silent' }),
    answer: new AnswerHold(),
    alone: () => false,
  };
}

async function clientOf(ctx: RequestContext): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createRouterServer(ctx, deps).connect(serverSide);
  const client = new Client({ name: 'relay-test', version: '1' });
  await client.connect(clientSide);
  return client;
}

/** The trail's records of `tenant`, once `count` are there (each is appended after its answer). */
async function records(tenant: string, count: number) {
  for (let i = 0; i < 100; i++) {
    const entries = await audit.entries(tenant);
    if (entries.length >= count) return entries;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return audit.entries(tenant);
}

const refusal = (error: unknown) => (error as { data?: { code?: string } }).data?.code;

describe('a request relayed to the tenant runtime', () => {
  it("is taken from the caller's rate limits, and a refused one never reaches the runtime", async () => {
    const client = await clientOf(context('limited', { reachesPacks: true }));
    reached = 0;
    for (let i = 0; i < 3; i++) await client.readResource({ uri: URI });
    const fourth = await client.readResource({ uri: URI }).catch((error: unknown) => error);
    expect(refusal(fourth)).toBe('rate_limit_exceeded');
    expect((fourth as { data?: { retry_after_ms?: number } }).data?.retry_after_ms).toBeGreaterThan(0);
    expect(reached).toBe(3);

    // Every one of the four is in the tenant's trail: the method, a keyed digest, never the URI.
    const entries = await records('limited', 4);
    expect(entries.map((e) => [e.tool, e.decision, e.status, e.error_code])).toEqual([
      ['resources/read', 'permit', 'ok', undefined],
      ['resources/read', 'permit', 'ok', undefined],
      ['resources/read', 'permit', 'ok', undefined],
      ['resources/read', 'permit', 'error', 'rate_limit_exceeded'],
    ]);
    expect(entries[0]?.args_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(entries)).not.toContain('4711');
    await client.close();
  });

  it('waits for a slot at the tenant’s concurrency gate, and is refused when none is free', async () => {
    const client = await clientOf(context('gated', { reachesPacks: true }));
    reached = 0;
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const first = client.readResource({ uri: URI });
    while (reached === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    reached = 0;
    const second = await client.readResource({ uri: URI }).catch((error: unknown) => error);
    release();
    await first;
    expect(refusal(second)).toBe('concurrency_limit');
    expect(reached).toBe(0);
    hold = Promise.resolve();
    await client.close();
  });

  it("is recorded as denied when the runtime refuses another pack's item", async () => {
    const client = await clientOf(context('other-pack', { reachesPacks: true }));
    const read = await client.readResource({ uri: OTHER_PACK_URI }).catch((error: unknown) => error);
    expect(refusal(read)).toBe('unknown_resource');
    const [entry] = await records('other-pack', 1);
    expect(entry).toMatchObject({ tool: 'resources/read', decision: 'deny', reason: 'unknown_resource' });
    await client.close();
  });

  it('is refused, and recorded as denied, for a caller who reaches no pack', async () => {
    const client = await clientOf(context('unreached', { reachesPacks: false }));
    reached = 0;
    const read = await client.readResource({ uri: URI }).catch((error: unknown) => error);
    expect(refusal(read)).toBe('unknown_resource');
    expect(reached).toBe(0);
    const [entry] = await records('unreached', 1);
    expect(entry).toMatchObject({ tool: 'resources/read', decision: 'deny', reason: 'unknown_resource' });
    await client.close();
  });

  // A 2025 session outlives its tenant's suspension, and a 2026-07-28 caller needs none: before, a
  // suspended tenant's relayed requests were taken from the tenant's minute and day (left spent for
  // its other agents once resumed), held a slot and went on to the supervisor, as a tools/call never
  // does.
  it.each([
    ['what it cannot reach', 'unknown_resource', { reachesPacks: false }],
    ['a suspended tenant', 'tenant_suspended', { reachesPacks: true, suspended: true }],
  ] as const)(
    "charges a caller who loops on %s to its own share, not the tenant's, and never sends it",
    async (_what, code, options) => {
      const tenant = `looping-${code.replaceAll('_', '-')}`;
      const ctx = context(tenant, options);
      const client = await clientOf(ctx);
      reached = 0;
      const answers = [];
      for (let i = 0; i < 4; i++)
        answers.push(await client.readResource({ uri: URI }).catch((error: unknown) => error));
      // The agent's share is 3: the fourth waits for it.
      expect(answers.map(refusal)).toEqual([code, code, code, 'rate_limit_exceeded']);
      expect((answers[3] as { data?: { details?: { layer?: string } } }).data?.details?.layer).toBe('agent');
      expect(reached).toBe(0);
      // Each is recorded as denied for why it was refused, the last one with the refusal it got.
      const entries = await records(tenant, 4);
      expect(entries.map((e) => [e.decision, e.reason, e.error_code])).toEqual([
        ['deny', code, code],
        ['deny', code, code],
        ['deny', code, code],
        ['deny', code, 'rate_limit_exceeded'],
      ]);
      // The tenant's minute paid for none of them.
      const { layers } = await deps.limiter.peek({ principal: ctx.principal, tenant: ctx.tenant });
      expect(layers.find((l) => l.layer === 'tenant_minute')?.remaining).toBe(3);
      await client.close();
    },
  );
});
