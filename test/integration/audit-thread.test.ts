// The router's audit sink (kernel/audit/audit-thread.ts) against the real Redis: the trail appended by
// a worker thread keeps the guarantees of the trail appended in place. An append settles only once
// its entry is in Redis, entries land in the order appended and chain, an invalid record is refused
// alone, a Redis that is not there fails each append instead of holding it, and a closed sink
// confirms what it took before refusing more.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditThread } from '../../kernel/audit/audit-thread.ts';
import { AuditTrail, type AuditEvent } from '../../kernel/audit/audit-trail.ts';
import { stateClientOptions } from '../../router/pipeline/state-guard.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { freePort } from '../support/stack.ts';

let ns: TestNamespace;
let redis: Redis;
let trail: AuditTrail;
const sinks: AuditThread[] = [];

const event = (tenant: string, reason: string): AuditEvent => ({
  tenant,
  user: null,
  agent: 'agent-1',
  tool: 'whoami',
  decision: 'permit',
  reason,
  kind: 'call',
  status: 'ok',
  latency_ms: 0.5,
});

function sink(redisOptions = ns.installation.redis): AuditThread {
  const made = new AuditThread({
    redis: { ...redisOptions, ...stateClientOptions({ deadlineMs: 500 }) },
    prefix: ns.installation.registryPrefix,
  });
  sinks.push(made);
  return made;
}

beforeAll(async () => {
  ns = await testNamespace('audit-thread');
  redis = new Redis(ns.installation.redis);
  trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  redis?.disconnect();
  await ns?.cleanup();
});

describe('the audit trail appended by a worker thread', () => {
  it('settles each append once its entry is in Redis, in the order appended, one chain per tenant', async () => {
    const thread = sink();
    const reasons = { acme: [] as string[], globex: [] as string[] };
    const missing: string[] = [];
    const appends = Array.from({ length: 120 }, (_, i) => {
      const tenant = i % 3 === 0 ? 'globex' : 'acme';
      const reason = `call-${i}`;
      reasons[tenant].push(reason);
      return thread.append(event(tenant, reason)).then(async () => {
        // Settled: the entry must be readable now, by anyone.
        const stored = await trail.entries(tenant);
        if (!stored.some((e) => e.reason === reason)) missing.push(reason);
      });
    });
    await Promise.all(appends);
    expect(missing).toEqual([]);
    for (const tenant of ['acme', 'globex'] as const) {
      const stored = await trail.entries(tenant);
      expect(stored.map((e) => e.reason)).toEqual(reasons[tenant]);
      expect(await trail.verify(tenant)).toMatchObject({ ok: true, entries: reasons[tenant].length });
    }
  });

  it('refuses an invalid record alone; the records around it are written', async () => {
    const thread = sink();
    const before = thread.append(event('initech', 'before'));
    const invalid = thread.append({
      ...event('initech', 'invalid'),
      decision: 'maybe',
    } as unknown as AuditEvent);
    const after = thread.append(event('initech', 'after'));
    await expect(invalid).rejects.toThrow();
    await Promise.all([before, after]);
    expect((await trail.entries('initech')).map((e) => e.reason)).toEqual(['before', 'after']);
  });

  it('fails each append when Redis is not there, instead of holding it', async () => {
    const thread = sink({ ...ns.installation.redis, host: '127.0.0.1', port: await freePort() });
    const started = performance.now();
    const results = await Promise.allSettled([
      thread.append(event('umbrella', 'a')),
      thread.append(event('umbrella', 'b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('confirms what it took before closing, then refuses more', async () => {
    const thread = sink();
    const taken = [thread.append(event('hooli', 'one')), thread.append(event('hooli', 'two'))];
    await thread.close();
    await Promise.all(taken);
    expect((await trail.entries('hooli')).map((e) => e.reason)).toEqual(['one', 'two']);
    await expect(thread.append(event('hooli', 'three'))).rejects.toMatchObject({ code: 'state_unavailable' });
  });
});
