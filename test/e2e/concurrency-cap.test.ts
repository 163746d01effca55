// The cap on calls in flight per tenant container (kernel/process/concurrency-gate.ts), through the
// whole stack with a real client: one slot and no queue, so that of a burst of concurrent calls of
// one tenant those that find the slot taken are refused at once as `concurrency_limit` (rate_limit,
// retry_after_ms), never an HTTP error; another tenant's calls during that burst are all served.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;

interface Answer {
  ok: boolean;
  error?: { error_class: string; code: string; retry_after_ms?: number };
}

async function list(client: Client): Promise<Answer> {
  const result = await client.callTool({ name: 'records_list', arguments: { limit: 100 } });
  const error = (result.structuredContent as { error?: Answer['error'] } | undefined)?.error;
  return { ok: !result.isError, ...(error ? { error } : {}) };
}

beforeAll(async () => {
  stack = await startTestStack('concurrency', {
    router: { tenantMaxInFlight: 1, tenantMaxQueued: 0, tenantQueueWaitMs: 500 },
  });
  await stack.onboard('cc-busy');
  await stack.onboard('cc-calm');
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('calls in flight per tenant', () => {
  it("refuses one tenant's calls past the cap with concurrency_limit and keeps serving another tenant", async () => {
    const busy = await bearerClient(stack.mcpUrl, await stack.agentToken('cc-busy'));
    const calm = await bearerClient(stack.mcpUrl, await stack.agentToken('cc-calm'));
    try {
      // Both containers up first: the burst measures the cap, not a cold start.
      expect(await list(busy)).toEqual({ ok: true });
      expect(await list(calm)).toEqual({ ok: true });
      const calmAnswers: Answer[] = [];
      const [burst] = await Promise.all([
        Promise.all(Array.from({ length: 30 }, () => list(busy))),
        (async () => {
          for (let i = 0; i < 5; i++) calmAnswers.push(await list(calm));
        })(),
      ]);
      const refused = burst.filter((a) => !a.ok);
      expect(burst.some((a) => a.ok)).toBe(true);
      expect(refused.length).toBeGreaterThan(0);
      for (const a of refused) {
        expect(a.error).toMatchObject({
          error_class: 'rate_limit',
          code: 'concurrency_limit',
          retry_after_ms: 500,
        });
      }
      expect(calmAnswers).toEqual(Array.from({ length: 5 }, () => ({ ok: true })));
      // The slot is free again once the burst is answered.
      expect(await list(busy)).toEqual({ ok: true });
    } finally {
      await busy.close();
      await calm.close();
    }
  }, 120_000);
});
