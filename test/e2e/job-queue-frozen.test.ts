// A call that needs a runtime (a tenant whose container was removed: a cold start) while the job
// queue's Redis stops answering at the ensure job's submission, its connections open (frozen, not
// down). The stock client's call is answered within two state deadlines (the submission's, then
// its audit record's), long before the router's job timeout (runtimeJobTimeoutMs), as a structured
// `transient` `state_unavailable` with a retry hint,
// counted and audited. What the call held is given back: with one slot per tenant and no queue,
// the next call is not refused concurrency_limit, and once Redis answers again the same write with
// the same idempotency key is run (its claim was released) and stored once. Before, the
// submission had no bound and the call hung. The whole stack (router, supervisor, a real
// container) on a redis-server of the test's own behind a relay that holds the submission and all
// after it (test/support/freezing-proxy.ts).
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { until } from '../support/until.ts';

const TENANT = 'jobfrozen';
/**
 * Past the test's timeout: a submission bounded by it alone, not by the state deadline, fails the
 * test, however slowly a loaded machine answers.
 */
const JOB_TIMEOUT_MS = 600_000;
const DEADLINE_MS = 1_000;

let redis: RelayedRedis;
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  redis = await startRelayedRedis('job-queue-frozen-e2e');
  stack = await startTestStack('jobfrozen', {
    redisUrl: redis.url,
    router: {
      runtimeJobTimeoutMs: JOB_TIMEOUT_MS,
      stateDeadlineMs: DEADLINE_MS,
      tenantMaxInFlight: 1,
      tenantMaxQueued: 0,
      metricsPort: 0,
    },
  });
  await stack.onboard(TENANT);
  // No runtime: the first call asks the supervisor for one (an ensure job).
  await stack.runtimes.remove(TENANT, { purgeData: false });
  client = await bearerClient(stack.mcpUrl, await stack.agentToken(TENANT));
}, 180_000);

afterAll(async () => {
  redis?.proxy.thaw();
  await client?.close();
  await stack?.close();
  await redis?.close();
}, 60_000);

interface ToolError {
  error_class?: string;
  code?: string;
  retry_after_ms?: number;
}

async function create(title: string, key: string): Promise<{ ms: number; ok: boolean; error?: ToolError }> {
  const started = performance.now();
  const result = await client.callTool({
    name: 'records_create',
    arguments: { title, idempotency_key: key },
  });
  const error = (result.structuredContent as { error?: ToolError } | undefined)?.error;
  return { ms: performance.now() - started, ok: !result.isError, ...(error ? { error } : {}) };
}

describe('a call that needs a runtime while the job queue Redis is frozen', () => {
  it('is answered state_unavailable in bounded time and gives back its slot and its claim', async () => {
    const title = `frozen-${randomUUID()}`;
    const key = `key-${randomUUID()}`;
    redis.proxy.freezeAt(`"tenantId":"${TENANT}"`);
    let frozen;
    try {
      frozen = await create(title, key);
    } finally {
      redis.proxy.thaw();
    }
    expect(frozen).toMatchObject({
      ok: false,
      error: { error_class: 'transient', code: 'state_unavailable', retry_after_ms: 1_000 },
    });
    expect(frozen.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);

    const metrics = await scrape(stack.router.metricsUrl!);
    const labels = { tool: 'records_create', outcome: 'state_unavailable', error_class: 'transient' };
    expect(total(metrics, 'bulkhead_tool_calls_total', labels)).toBe(1);
    expect(total(metrics, 'bulkhead_runtime_ensure_seconds_count', { outcome: 'error' })).toBe(1);
    // Its record, started as the call was answered, is in the tenant's trail once Redis answers.
    const trail = new Redis(stack.ns.installation.redis);
    try {
      const audit = new AuditTrail({ redis: trail, prefix: stack.ns.installation.registryPrefix });
      const recorded = async () => (await audit.entries(TENANT)).filter((e) => e.tool === 'records_create');
      await until(async () => (await recorded()).length > 0, 'the call to be audited');
      expect(await recorded()).toHaveLength(1);
      expect((await recorded())[0]).toMatchObject({
        status: 'error',
        error_code: 'state_unavailable',
        error_class: 'transient',
      });
    } finally {
      trail.disconnect();
    }

    // Redis answers again: the same write, same key, is run (not idempotency_in_progress, not
    // concurrency_limit), once.
    const again = await create(title, key);
    expect(again).toMatchObject({ ok: true });
    const listed = await client.callTool({ name: 'records_list', arguments: {} });
    expect(JSON.stringify(listed.structuredContent).split(title).length - 1).toBe(1);
  }, 120_000);
});
