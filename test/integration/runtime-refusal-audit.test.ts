// A tenant runtime chooses none of what the router records of its failures. Its answers are the
// tenant's code: one naming the router's own refusals (`rate_limit_exceeded`, `invalid_token`) or a
// string of its own (a new one per call, or a long one) is recorded in the audit trail and counted
// in the metrics as `runtime_code_refused`, never under the code it named, and the label values stay
// the table's; a code a runtime may answer with (`pack_timeout`) is kept. Nor can it take its calls
// out of the trail by answering them as the router's rate-limit refusal (router/mcp/repeated-refusals.ts
// leaves out only a refusal of its own asked again within its wait): each one is recorded. Real
// router, real Redis, a real tenant container taken over by a hostile process of the tenant
// (test/support/answering-runtime.ts), a stock SDK v2 client, the router's /metrics over HTTP.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { ERROR_CODES } from '../../kernel/errors/error-codes.ts';
import { answerRecordsAs } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { agentClient } from '../support/mcp-client.ts';
import { scrape } from '../support/prometheus-text.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** The router's rate-limit refusal, with an hour's wait. */
const REFUSAL = {
  error_class: 'rate_limit',
  code: 'rate_limit_exceeded',
  message: 'the agent rate limit of 1 calls per minute is spent; retry after 3600000 ms',
  retryable: true,
  retry_after_ms: 3_600_000,
};
/**
 * The n-th call's answer, in turn: the refusal three times, the router's `invalid_token`, a code of
 * its own new on every call, one of 10,000 characters, and a pack's timeout (a runtime's own code).
 * Every relayed request is refused with the refusal's structured error.
 */
const SCRIPT = String.raw`(() => {
  const refusal = ${JSON.stringify(REFUSAL)};
  const codes = ['rate_limit_exceeded', 'rate_limit_exceeded', 'rate_limit_exceeded', 'invalid_token',
    'made_up_' + Math.random(), 'x'.repeat(10000), 'pack_timeout'];
  let n = 0;
  return (message) => {
    if (message.method !== 'tools/call')
      return [{ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: 'spent', data: refusal } }];
    const code = codes[n++ % codes.length];
    const error = code === 'rate_limit_exceeded' ? refusal
      : { error_class: code === 'invalid_token' ? 'authorization' : 'transient', code, message: 'no', retryable: false };
    return [{ jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', isError: true,
      content: [{ type: 'text', text: 'failed' }], structuredContent: { error } } }];
  };
})()`;
const CALLS = 7;

let stack: TestStack;
let redis: Redis;
let trail: AuditTrail;
let hostile: HostileProcess | undefined;

beforeAll(async () => {
  stack = await startTestStack('rt-refusal', {
    callTimeoutMs: 15_000,
    router: { metricsPort: 0, metricsTenantLabel: true },
  });
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

describe("a runtime's failures naming codes of its choosing", () => {
  it('are recorded and counted under the codes a runtime may answer with, every call in the trail', async () => {
    const client = await agentClient(stack, 'forger');
    const answered: unknown[] = [];
    try {
      for (let i = 0; i < CALLS; i++) {
        const answer = await client.callTool({
          name: 'records_get',
          arguments: { id: `00000000-0000-4000-8000-00000000000${i}` },
        });
        expect(answer.isError).toBe(true);
        answered.push((answer.structuredContent as { error: { code: string } }).error.code);
      }
      for (let i = 0; i < 3; i++) {
        const refused = await client.listResources().catch((error: unknown) => error);
        expect(refused).toMatchObject({ data: { code: 'rate_limit_exceeded' } });
      }
    } finally {
      await client.close();
    }
    // The client gets the tenant's answer as the runtime gave it.
    expect(answered.slice(0, 4)).toEqual([
      'rate_limit_exceeded',
      'rate_limit_exceeded',
      'rate_limit_exceeded',
      'invalid_token',
    ]);
    const entries = await trail.entries('forger');
    const calls = entries.filter((e) => e.kind === 'call' && e.tool === 'records_get');
    const refused = ['permit', 'runtime_code_refused', 'transient'];
    expect(calls.map((e) => [e.decision, e.error_code, e.error_class])).toEqual([
      ...Array.from({ length: CALLS - 1 }, () => refused),
      ['permit', 'pack_timeout', 'transient'],
    ]);
    const relayed = entries.filter((e) => e.kind === 'call' && e.tool === 'resources/list');
    expect(relayed.map((e) => [e.decision, e.error_code, e.error_class])).toEqual([
      refused,
      refused,
      refused,
    ]);
    // Nothing of them is held back for a summary of refusals the router never made.
    expect(entries.filter((e) => e.kind === 'refusals')).toEqual([]);

    const samples = await scrape(stack.router.metricsUrl!);
    const counted = (name: string) =>
      samples
        .filter((s) => s.name === name && s.labels.tenant === 'forger')
        .map((s) => [s.labels.outcome, s.labels.error_class, s.value]);
    expect(counted('bulkhead_tool_calls_total').sort()).toEqual([
      ['pack_timeout', 'transient', 1],
      ['runtime_code_refused', 'transient', CALLS - 1],
    ]);
    expect(counted('bulkhead_relayed_requests_total')).toEqual([['runtime_code_refused', 'transient', 3]]);
    // No label value anywhere is a string the runtime made up.
    const outcomes = ['ok', 'internal', ...Object.keys(ERROR_CODES)];
    for (const { labels } of samples)
      if (labels.outcome !== undefined) expect(outcomes).toContain(labels.outcome);
  });
});
