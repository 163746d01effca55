// A hostile process inside a tenant's container, running as the tenant, takes over the runtime's
// socket and answers the router with a 1 GiB body, an endless stream, one byte per second, an
// endless stream of notifications, malformed JSON or oversized headers, on runc and on gVisor.
// The router (a separate process, so that its own memory is measured) must cut each answer off,
// give the agent a structured `transient` error within the call's deadline, stay within 64 MiB
// of its resident-memory baseline, record the security event (audit trail, counter) and recycle
// the runtime; a bystander tenant keeps being served (its p99 is printed, not asserted).
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityCountersKey } from '../../kernel/redis/keys.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { HOSTILE_ANSWERS, startHostileAnswer, type HostileAnswer } from '../support/hostile-runtime.ts';
import { bearerClient, containerId, containerName } from '../support/mcp-client.ts';
import { startRouterProcess, type RouterProcess } from '../support/router-process.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const CALL_TIMEOUT_MS = 5_000;
const RSS_BUDGET_BYTES = 64 * 1024 * 1024;
const BREACH: Record<HostileAnswer, string> = {
  'huge-body': 'response_too_large',
  'endless-stream': 'response_too_large',
  drip: 'deadline_exceeded',
  'endless-notifications': 'too_many_messages',
  'malformed-json': 'malformed_response',
  'huge-headers': 'headers_too_large',
};

let stack: TestStack;
let router: RouterProcess;
let redis: Redis;
let audit: AuditTrail;
let bystander: Client;

interface CallOutcome {
  ok: boolean;
  error?: { error_class: string; code: string; retry_after_ms?: number };
  ms: number;
}

async function listRecords(client: Client, limit = 5): Promise<CallOutcome> {
  const started = performance.now();
  const result = await client.callTool({ name: 'records_list', arguments: { limit } });
  const ms = performance.now() - started;
  if (!result.isError) return { ok: true, ms };
  return { ok: false, error: (result.structuredContent as { error: CallOutcome['error'] }).error, ms };
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? Number.NaN;
}

/** Calls the bystander back to back until stopped (at most `max` calls); resolves to the latencies. */
function bystanderLoad(max: number): { stop(): void; done: Promise<CallOutcome[]> } {
  let stopped = false;
  const done = (async () => {
    const outcomes: CallOutcome[] = [];
    // Paced, as a steady agent would call: back-to-back calls would churn the router's heap
    // enough on their own to blur what the hostile answer costs.
    while (!stopped && outcomes.length < max) {
      outcomes.push(await listRecords(bystander));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return outcomes;
  })();
  return { stop: () => (stopped = true), done };
}

/** Samples the router's resident memory every 50 ms until stopped; resolves to the peak. */
function rssPeak(): { stop(): void; peak: Promise<number> } {
  let stopped = false;
  const peak = (async () => {
    let max = 0;
    for (let i = 0; !stopped && i < 10_000; i++) {
      max = Math.max(max, await router.rss());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return Math.max(max, await router.rss());
  })();
  return { stop: () => (stopped = true), peak };
}

beforeAll(async () => {
  stack = await startTestStack('hostile', { supervisor: { drainSeconds: 1 } });
  // V8 grows its young generation with the allocation rate (to 128 MiB on this kind of machine) and
  // shrinks it again while the process idles: one CI run charged a regrowth (+64.7 MiB, given back
  // a few cases later) to the endless stream that happened to trigger it. Fixed at two 16 MiB
  // semi-spaces it neither grows nor shrinks, and the budget measures what a hostile answer keeps.
  router = await startRouterProcess(
    stack,
    { BULKHEAD_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS) },
    { nodeFlags: ['--min-semi-space-size=16', '--max-semi-space-size=16'] },
  );
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  await stack.onboard('bystander');
  bystander = await bearerClient(router.mcpUrl, await stack.agentToken('bystander'));
  // The baseline is a router that has served real traffic, large legitimate answers included: a
  // full page of records with 10,000-character bodies (about 2 MB of answer) passes the cap.
  const body = 'b'.repeat(10_000);
  for (let batch = 0; batch < 2; batch++) {
    const items = Array.from({ length: 50 }, (_, i) => ({ title: `big ${batch}-${i}`, body }));
    const created = await bystander.callTool({
      name: 'records_bulk_create',
      arguments: { items, idempotency_key: `warm-up-batch-${batch}` },
    });
    expect(created.isError, JSON.stringify(created.structuredContent)).toBeFalsy();
  }
  for (let i = 0; i < 10; i++) {
    const page = await listRecords(bystander, 100);
    expect(page, JSON.stringify(page.error)).toMatchObject({ ok: true });
  }
  const outcomes = await bystanderLoad(200).done;
  expect(outcomes.every((o) => o.ok)).toBe(true);
  // The router has also met a hostile stream before: the first event-stream answer a router ever
  // reads compiles that code path, a one-time cost (about 5 MiB here with the young generation
  // fixed; up to about 75 MiB before, when it grew too) that the budget below is not about. The
  // budget bounds what each hostile answer costs a router in service; this one is printed only.
  const warmRss = await router.rss();
  await stack.onboard('warm-hostile');
  const warmUid = (await stack.registry.get('warm-hostile'))?.uid;
  if (warmUid === undefined) throw new Error('no tenant warm-hostile');
  const warm = await startHostileAnswer(stack.ns.docker.getContainer(containerName(stack, 'warm-hostile')), {
    uid: warmUid,
    mode: 'endless-stream',
    takeover: 'socket',
  });
  const warmAgent = await bearerClient(router.mcpUrl, await stack.agentToken('warm-hostile'));
  try {
    const refused = await listRecords(warmAgent);
    expect(refused).toMatchObject({ ok: false });
  } finally {
    warm.stop();
    await warmAgent.close();
  }
  console.log(
    `router RSS after its first hostile stream: +${(((await router.rss()) - warmRss) / 2 ** 20).toFixed(1)} MiB (one-time)`,
  );
  const baselineRss = await router.rss();
  const before = await bystanderLoad(100).done;
  console.log(
    `router baseline RSS ${(baselineRss / 2 ** 20).toFixed(1)} MiB; bystander p99 before: ${p99(before.map((o) => o.ms)).toFixed(1)} ms`,
  );
}, 120_000);

afterAll(async () => {
  await bystander?.close();
  await router?.close();
  redis?.disconnect();
  await stack?.close();
});

describe.each(['runc', 'gvisor'] as const)('hostile answers on %s', (isolation) => {
  it.each(HOSTILE_ANSWERS)(
    '%s: transient in time, router memory bounded, audited, counted, recycled',
    async (mode) => {
      const tenant = `${isolation === 'runc' ? 'r' : 'g'}-${mode}`;
      await stack.onboard(tenant, { isolation });
      const uid = (await stack.registry.get(tenant))?.uid;
      if (uid === undefined) throw new Error(`no tenant ${tenant}`);
      const victim = await containerId(stack, tenant);
      const container = stack.ns.docker.getContainer(containerName(stack, tenant));
      // gVisor refuses to unlink the socket the runtime created on the host: there the hostile
      // process takes over the runtime's own listener instead of the socket path.
      const takeover = isolation === 'runc' ? 'socket' : 'inspector';
      const hostile = await startHostileAnswer(container, { uid, mode, takeover });
      const agent = await bearerClient(router.mcpUrl, await stack.agentToken(tenant));
      // Measured against the memory right before the answer: V8 returns earlier garbage to the
      // system lazily, so a baseline from the start of the file would charge one case for another.
      const before = await router.rss();
      // Both run through the hostile answer and the recycle that follows it, until the tenant is
      // served again.
      const memory = rssPeak();
      const load = bystanderLoad(2_000);
      try {
        const outcome = await listRecords(agent);
        expect(outcome.ok, router.logTail()).toBe(false);
        expect(outcome.error).toMatchObject({ error_class: 'transient', code: 'runtime_unavailable' });
        // What ended it is the audited breach below: a read bound, or the call's deadline for the
        // drip (deadline_exceeded); a call that hung would fail the test at its timeout.
        console.log(`${isolation} ${mode}: transient after ${Math.round(outcome.ms)} ms`);

        const reason = `read_bound:${BREACH[mode]}`;
        expect((await audit.entries(tenant)).map((e) => e.reason)).toContain(reason);
        expect((await audit.verify(tenant)).ok).toBe(true);
        const counted = await redis.hget(
          securityCountersKey(stack.ns.installation.registryPrefix),
          `${tenant}:${BREACH[mode]}`,
        );
        expect(Number(counted)).toBeGreaterThanOrEqual(1);

        // The runtime is recycled: the tenant is served again, by a fresh container.
        const recycling = performance.now();
        let recovered: CallOutcome | undefined;
        for (let attempt = 0; attempt < 60 && !recovered?.ok; attempt++) {
          if ((await containerId(stack, tenant)) !== victim) recovered = await listRecords(agent);
          if (!recovered?.ok) await new Promise((resolve) => setTimeout(resolve, 500));
        }
        console.log(
          `${isolation} ${mode}: served again after ${Math.round(performance.now() - recycling)} ms`,
        );
        expect(recovered?.ok, router.logTail()).toBe(true);
        expect(await containerId(stack, tenant)).not.toBe(victim);
      } finally {
        load.stop();
        memory.stop();
        hostile.stop();
        await agent.close();
      }
      const during = await load.done;
      const peak = await memory.peak;
      console.log(
        `${isolation} ${mode}: router RSS peak ${((peak - before) / 2 ** 20).toFixed(1)} MiB over ${(before / 2 ** 20).toFixed(1)} MiB; ` +
          `bystander p99 during: ${p99(during.map((o) => o.ms)).toFixed(1)} ms over ${during.length} calls`,
      );
      expect(peak - before).toBeLessThan(RSS_BUDGET_BYTES);
      expect(during.every((o) => o.ok)).toBe(true);
    },
    120_000,
  );
});
