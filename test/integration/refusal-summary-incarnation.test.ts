// What a caller left out of its tenant's audit trail (rate-limit refusals asked again within their
// wait: router/mcp/repeated-refusals.ts) is written to that tenant's trail, never to the trail of
// another tenant given the same id: a tenant offboarded and onboarded again before the summary is
// written (its wait passed, or the router closing) is another customer, whose trail must not show
// the earlier one's agents and what they asked (docs/audit.md, "After offboarding"). Real router (a
// replica of the stack's, closed by the test), real Redis and IdP, a stock SDK client.
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { defaultTools } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'rs-again';

let stack: TestStack;
let redis: Redis;
let trail: AuditTrail;
const logLines: { msg?: string; audit?: { kind?: string; repeats?: { count: number } } }[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      logLines.push(JSON.parse(chunk.toString()) as (typeof logLines)[number]);
      done();
    },
  });
  stack = await startTestStack('rs-again', { logger: pino(sink) });
  redis = new Redis(stack.ns.installation.redis);
  trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  // One call a minute for the agent: a refusal's wait of about a minute, which the test never sees pass.
  await stack.onboard(TENANT, { quotas: { callsPerMinute: 2, callsPerDay: 100, agentCallsPerMinute: 1 } });
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe('a summary of refusals left out of the trail', () => {
  it('is not written to the trail of a tenant onboarded again under the id', async () => {
    const replica = await stack.replica();
    const client = await bearerClient(`${replica.url}/mcp`, await stack.agentToken(TENANT));
    try {
      expect((await client.callTool({ name: 'whoami', arguments: {} })).isError).toBeFalsy();
      // The first refusal is recorded; the next two are left out, for a summary.
      for (let i = 0; i < 3; i++) {
        const refused = await client.callTool({ name: 'whoami', arguments: {} });
        expect(refused.structuredContent).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
      }
    } finally {
      await client.close();
    }
    const earlier = await stack.registry.get(TENANT);
    // Offboarded and onboarded again under the id, before the earlier caller's wait has passed.
    await stack.registry.delete(TENANT, { actor: 'test' });
    await sleep(5);
    const later = await stack.registry.create(
      { id: TENANT, plan: planByName('small'), isolation: 'runc', tools: defaultTools() },
      { actor: 'test' },
    );
    expect(later.createdAt).not.toBe(earlier?.createdAt);
    const before = (await trail.entries(TENANT)).length;
    // Past the router's cache of tenant records (router/tenancy/tenant-directory.ts), then closed.
    await sleep(2_500);
    await replica.close();
    const written = (await trail.entries(TENANT)).slice(before);
    expect(written.filter((entry) => entry.kind === 'refusals')).toEqual([]);
    // Not lost either: logged whole, as for a tenant with no record.
    const logged = logLines.filter((line) => line.audit?.kind === 'refusals');
    expect(logged).toMatchObject([
      {
        msg: 'no audit trail: the tenant it was refused under has no record (offboarded, or onboarded again)',
        audit: { repeats: { count: 2 } },
      },
    ]);
  }, 120_000);
});
