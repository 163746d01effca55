// The rate-limit refusals a caller is not recorded for one by one (asked again within the wait the
// last recorded one gave it: router/mcp/repeated-refusals.ts) are still accounted for in its tenant's
// trail (docs/audit.md, `repeats`): with a stock SDK client looping past its budget against a real
// router, the real IdP and Redis, the records left are few, and their counts, with the recorded
// refusals, sum to exactly the refusals answered; a caller that stops asking gets a summary record
// (kind `refusals`) once its wait has passed, and one when the router closes first; the chain with
// the new field is sealed and verifies offline (`bulkhead audit verify`), and the export carries it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, type AuditEntry } from '../../kernel/audit/audit-trail.ts';
import { ensureAuditKeys } from '../../tenants/control-plane/audit-segments.ts';
import { offlineAuditCli } from '../support/cli.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;
let trail: AuditTrail;
let dir: string;
let keys: Awaited<ReturnType<typeof ensureAuditKeys>>;

const cli = (...args: string[]) =>
  offlineAuditCli({ namespace: stack.ns.namespace, dir, publicKeyFile: keys.publicKeyFile })(...args);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-repeats-e2e-'));
  keys = await ensureAuditKeys(join(dir, 'keys'));
  stack = await startTestStack('repeats', {
    supervisor: { auditDir: join(dir, 'audit'), auditSigningKeyFile: keys.signingKeyFile },
  });
  redis = new Redis(stack.ns.installation.redis);
  trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  // An agent's share of 30 calls a minute: a burst of 30, then one every 2 s, so a wait is at most 2 s.
  await stack.onboard('rr-loop', {
    quotas: { callsPerMinute: 600, callsPerDay: 10_000, agentCallsPerMinute: 30 },
  });
  // One call a minute: a wait of about a minute, which no test here sees pass.
  await stack.onboard('rr-close', {
    quotas: { callsPerMinute: 2, callsPerDay: 100, agentCallsPerMinute: 1 },
  });
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * The structured error of a refused request (a tool error's, or a JSON-RPC error's data: an unknown
 * tool within the budget is one), undefined when answered.
 */
async function ask(client: Client, what: 'whoami' | 'no_such_tool' | 'resources/list') {
  const send = () =>
    what === 'resources/list'
      ? client.listResources().then(() => undefined)
      : client
          .callTool({ name: what, arguments: {} })
          .then((result) => (result.structuredContent as { error?: unknown } | undefined)?.error);
  const answer = await send().catch((error: unknown) => (error as { data?: unknown }).data);
  return answer as { code?: string; retry_after_ms?: number } | undefined;
}

/** The refusals the trail accounts for: the recorded ones, and the counts records carry. */
function accounted(entries: AuditEntry[]): { recorded: number; carried: number; tools: Set<string> } {
  const tools = new Set<string>();
  let recorded = 0;
  let carried = 0;
  for (const e of entries) {
    if (e.kind === 'call' && e.error_code === 'rate_limit_exceeded') recorded += 1;
    carried += e.repeats?.count ?? 0;
    for (const tool of e.repeats?.tools ?? []) tools.add(tool);
  }
  return { recorded, carried, tools };
}

describe('rate-limit refusals left out of the trail', () => {
  it('are counted by the records that follow, and summarized once a caller that stopped has waited', async () => {
    const client = await bearerClient(stack.mcpUrl, await stack.agentToken('rr-loop'));
    const names = ['whoami', 'no_such_tool', 'resources/list'] as const;
    let refused = 0;
    const started = performance.now();
    try {
      // Past the burst, asking in turn for a tool, no tool and a relayed request, then until a
      // refusal tells it to wait at least 1.5 s; three more asked at once after it are refused within
      // that wait, so at least two of them are left out (the first may be the one recorded).
      let sent = 0;
      for (;;) {
        const error = await ask(client, names[sent % 3]!);
        sent += 1;
        if (error?.code !== 'rate_limit_exceeded') continue;
        refused += 1;
        if (sent > 300 && (error.retry_after_ms ?? 0) >= 1_500) break;
      }
      for (let i = 0; i < 3; i++) {
        expect((await ask(client, 'whoami'))?.code).toBe('rate_limit_exceeded');
        refused += 1;
      }
    } finally {
      await client.close();
    }
    const elapsed = performance.now() - started;
    // Right after, what was left out last is not in the trail yet: its wait has not passed.
    const early = accounted(await trail.entries('rr-loop'));
    expect(early.recorded + early.carried).toBeLessThan(refused);
    // Then, within the wait (2 s at most) and a sweep (1 s), a summary accounts for every one.
    let entries: AuditEntry[] = [];
    for (let waited = 0; waited < 10_000; waited += 100) {
      entries = await trail.entries('rr-loop');
      const now = accounted(entries);
      if (now.recorded + now.carried >= refused) break;
      await sleep(100);
    }
    const { recorded, carried, tools } = accounted(entries);
    expect(recorded + carried).toBe(refused);
    expect(refused).toBeGreaterThan(200);
    // One recorded refusal a wait at most (two a refill: one just before it, one after).
    expect(recorded).toBeLessThanOrEqual(2 * Math.ceil(elapsed / 2_000) + 2);
    expect([...tools].sort()).toEqual(['no_such_tool', 'resources/list', 'whoami']);
    const summaries = entries.filter((e) => e.kind === 'refusals');
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.at(-1)).toMatchObject({
      tool: 'rate_limit_exceeded',
      decision: 'deny',
      reason: 'rate_limit_exceeded',
      agent: expect.any(String),
    });
    expect(summaries.at(-1)).toBe(entries.at(-1));

    // The chain, the new field in it, is sealed and verifies offline; the export carries the field.
    await stack.supervisor.sealer!.runOnce();
    const verified = await cli('audit', 'verify', 'rr-loop');
    expect(verified.code, verified.stderr).toBe(0);
    const exported = await cli('audit', 'export', 'rr-loop');
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEntry);
    expect(lines.reduce((sum, e) => sum + (e.repeats?.count ?? 0), 0)).toBe(carried);
  }, 120_000);

  it('are summarized when the router closes before the wait has passed', async () => {
    const replica = await stack.replica();
    const client = await bearerClient(`${replica.url}/mcp`, await stack.agentToken('rr-close'));
    let refused = 0;
    try {
      expect((await ask(client, 'whoami'))?.code).toBeUndefined();
      // The first refusal is recorded, with a wait of about a minute; the other five are left out.
      for (let i = 0; i < 6; i++) {
        expect((await ask(client, i % 2 ? 'whoami' : 'no_such_tool'))?.code).toBe('rate_limit_exceeded');
        refused += 1;
      }
    } finally {
      await client.close();
    }
    expect(accounted(await trail.entries('rr-close'))).toMatchObject({ recorded: 1, carried: 0 });
    await replica.close();
    const entries = await trail.entries('rr-close');
    expect(accounted(entries)).toMatchObject({ recorded: 1, carried: refused - 1 });
    expect(entries.at(-1)).toMatchObject({
      kind: 'refusals',
      repeats: { count: 5, tools: ['whoami', 'no_such_tool'], others: 0 },
    });
  }, 120_000);
});
