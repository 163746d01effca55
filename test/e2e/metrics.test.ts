// Router and supervisor metrics against the real stack: real MCP calls through the router (a real
// SDK client, a real tenant container), then both loopback /metrics endpoints scraped over HTTP and
// their exposition compared, series by series, with exactly the calls this test made.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { agentClient } from '../support/mcp-client.ts';
import { scrape, total, type Sample } from '../support/prometheus-text.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'metered';
let stack: TestStack;
let client: Client;

function create(title: string, key: string) {
  return client.callTool({ name: 'records_create', arguments: { title, idempotency_key: key } });
}

beforeAll(async () => {
  stack = await startTestStack('metrics', {
    router: { metricsPort: 0 },
    supervisor: { metricsPort: 0 },
    // Every call checks the runtime epoch: the pause below is seen before a byte is sent.
    routeFreshnessMs: 0,
  });
  await stack.onboard(TENANT, { tools: openToAgentsAlone('all') });
  client = await agentClient(stack, TENANT);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.close();
});

describe('metrics', () => {
  it('the /mcp listener does not serve /metrics', async () => {
    expect(stack.router.metricsUrl).toBeDefined();
    expect(new URL(stack.router.metricsUrl!).port).not.toBe(new URL(stack.mcpUrl).port);
    expect((await fetch(new URL('/metrics', stack.mcpUrl))).status).toBe(404);
  });

  it('router and supervisor series count exactly the calls made', async () => {
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, key] of keys.entries()) expect((await create(`metered-${i}`, key)).isError).toBeFalsy();
    expect((await create('metered-0', keys[0]!)).isError).toBeFalsy(); // a retry: replayed
    const invalid = await client.callTool({ name: 'records_create', arguments: { title: 42 } });
    expect(invalid.isError).toBe(true);
    await expect(client.callTool({ name: 'no_such_tool_xyz', arguments: {} })).rejects.toThrow(
      /Unknown tool/,
    );
    const badToken = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-jwt', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(badToken.status).toBe(401);

    const router = await scrape(stack.router.metricsUrl!);
    const calls = (labels: Record<string, string>): number =>
      total(router, 'bulkhead_tool_calls_total', labels);
    expect(calls({ tool: 'records_create', outcome: 'ok', error_class: 'none' })).toBe(4);
    expect(calls({ tool: 'records_create', error_class: 'validation' })).toBe(1);
    expect(calls({ tool: 'unknown', outcome: 'unknown_tool', error_class: 'validation' })).toBe(1);
    expect(calls({})).toBe(6);
    expect(total(router, 'bulkhead_tool_call_duration_seconds_count', { tool: 'records_create' })).toBe(5);
    expect(total(router, 'bulkhead_tool_call_duration_seconds_count', { tool: 'unknown' })).toBe(1);
    expect(total(router, 'bulkhead_tool_validation_failures_total', { tool: 'records_create' })).toBe(1);
    expect(total(router, 'bulkhead_tool_validation_failures_total')).toBe(1);
    expect(total(router, 'bulkhead_idempotency_replays_total', { tool: 'records_create' })).toBe(1);
    expect(total(router, 'bulkhead_auth_failures_total', { reason: 'malformed' })).toBe(1);
    expect(total(router, 'bulkhead_auth_failures_total')).toBe(1);
    // One route to the runtime, established by the first call.
    expect(total(router, 'bulkhead_runtime_ensure_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(total(router, 'bulkhead_tool_drift_events_total')).toBe(0);
    // Bounded labels: no tenant label unless enabled, never a tool name the request typed.
    expect(router.some((s: Sample) => 'tenant' in s.labels)).toBe(false);
    expect(router.some((s: Sample) => Object.values(s.labels).includes('no_such_tool_xyz'))).toBe(false);

    const supervisor = await scrape(stack.supervisor.metricsUrl!);
    expect(total(supervisor, 'bulkhead_runtimes', { state: 'running' })).toBe(1);
    expect(total(supervisor, 'bulkhead_runtime_cold_start_seconds_count')).toBe(1);
    expect(total(supervisor, 'bulkhead_runtime_wake_seconds_count')).toBe(0);
    expect(total(supervisor, 'bulkhead_runtime_memory_bytes', { tenant: TENANT })).toBeGreaterThan(
      1024 * 1024,
    );
    expect(total(supervisor, 'bulkhead_runtime_memory_limit_bytes', { tenant: TENANT })).toBeGreaterThan(0);
    expect(total(supervisor, 'bulkhead_runtime_pids', { tenant: TENANT })).toBeGreaterThan(0);
    expect(total(supervisor, 'bulkhead_runtime_cpu_seconds_total', { tenant: TENANT })).toBeGreaterThan(0);
    expect(total(supervisor, 'bulkhead_creates_in_flight')).toBe(0);
    expect(total(supervisor, 'bulkhead_creates_queued')).toBe(0);
  }, 120_000);

  it('a wake from paused is timed by the supervisor and the router alike', async () => {
    const runtimeId = (await stack.supervisor.manager.inspect(TENANT))!.runtimeId;
    expect(await stack.supervisor.manager.idle(TENANT, { event: 'pause', runtimeId })).toBe(true);
    expect((await create('after-pause', randomUUID())).isError).toBeFalsy();
    const supervisor = await scrape(stack.supervisor.metricsUrl!);
    expect(total(supervisor, 'bulkhead_runtime_wake_seconds_count', { from: 'paused' })).toBe(1);
    expect(total(supervisor, 'bulkhead_runtime_cold_start_seconds_count')).toBe(1);
    const router = await scrape(stack.router.metricsUrl!);
    expect(total(router, 'bulkhead_runtime_ensure_seconds_count', { outcome: 'ok' })).toBe(2);
  }, 60_000);
});
