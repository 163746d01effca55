// A tenant runtime cannot take its calls out of the audit trail by answering them as the router's
// rate-limit refusal (router/mcp/repeated-refusals.ts): the router leaves out a refusal of its own
// asked again within its wait, but a runtime's answer naming `rate_limit_exceeded` with any wait is
// the answer of a call that ran in the tenant's container, and each one is recorded. Real router,
// real Redis, a real tenant container taken over by a hostile process of the tenant
// (test/support/answering-runtime.ts), a stock SDK v2 client.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { answerRecordsAs } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** Every call (a tool's or a relayed request's) answered as a rate-limit refusal with an hour's wait. */
const REFUSAL = {
  error_class: 'rate_limit',
  code: 'rate_limit_exceeded',
  message: 'the agent rate limit of 1 calls per minute is spent; retry after 3600000 ms',
  retryable: true,
  retry_after_ms: 3_600_000,
};
const SCRIPT = String.raw`(message) => {
  const refusal = ${JSON.stringify(REFUSAL)};
  if (message.method === 'tools/call')
    return [{ jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', isError: true,
      content: [{ type: 'text', text: 'rate_limit: spent' }], structuredContent: { error: refusal } } }];
  return [{ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: 'spent', data: refusal } }];
}`;

let stack: TestStack;
let redis: Redis;
let trail: AuditTrail;
let hostile: HostileProcess | undefined;

beforeAll(async () => {
  stack = await startTestStack('rt-refusal', { callTimeoutMs: 15_000 });
  redis = new Redis(stack.ns.installation.redis);
  trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  await stack.onboard('forger');
  hostile = await answerRecordsAs(stack, 'forger', SCRIPT);
}, 180_000);

afterAll(async () => {
  hostile?.stop();
  redis?.disconnect();
  await stack?.close();
});

describe("a runtime's answer naming the router's rate-limit refusal", () => {
  it('leaves every call that reached the runtime in the audit trail, as permitted', async () => {
    const client = await agentClient(stack, 'forger');
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await client.callTool({
          name: 'records_get',
          arguments: { id: `00000000-0000-4000-8000-00000000000${i}` },
        });
        expect(answer.isError).toBe(true);
        expect(answer.structuredContent).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
      }
      for (let i = 0; i < 3; i++) {
        const refused = await client.listResources().catch((error: unknown) => error);
        expect(refused).toMatchObject({ data: { code: 'rate_limit_exceeded' } });
      }
    } finally {
      await client.close();
    }
    const entries = await trail.entries('forger');
    const calls = entries.filter((e) => e.kind === 'call' && e.tool === 'records_get');
    expect(calls.map((e) => [e.decision, e.error_code])).toEqual([
      ['permit', 'rate_limit_exceeded'],
      ['permit', 'rate_limit_exceeded'],
      ['permit', 'rate_limit_exceeded'],
    ]);
    const relayed = entries.filter((e) => e.kind === 'call' && e.tool === 'resources/list');
    expect(relayed).toHaveLength(3);
    // Nothing of them is held back for a summary of refusals the router never made.
    expect(entries.filter((e) => e.kind === 'refusals')).toEqual([]);
  });
});
