// An offboarded tenant leaves no series on the supervisor's /metrics: its socket tampering count (a
// Redis hash, a field per tenant, exported as `bulkhead_runtime_socket_tampering_total{tenant}`)
// goes with the rest of it, so the series do not grow with every tenant ever offboarded, and the
// same id onboarded again starts at none (not the earlier tenant's count). Its share of the router's
// security counts (read-bound breaches, unreadable idempotency records) goes too, and no other
// tenant's. Against the real engine, Redis and a real tampering the supervisor's health pass finds.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { securityCountersKey, unreadableRecordsKey } from '../../kernel/redis/keys.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { offboardTenant } from '../../tenants/control-plane/offboard.ts';
import { onboardTenant } from '../../tenants/control-plane/onboard.ts';
import type { RunningSupervisor } from '../../supervisor/supervisor.ts';
import { startControlPlaneStack, type ControlPlaneStack } from '../support/control-plane-stack.ts';
import { execIn, testNamespace, type TestNamespace } from '../support/namespace.ts';

const TENANT = 'tampered';
let ns: TestNamespace;
let cp: OpenedControlPlane;
let supervisor: RunningSupervisor;
let stack: ControlPlaneStack | undefined;

/** The tenant's tampering series on the supervisor's /metrics (scraped now), or none. */
async function tamperingSeries(): Promise<string[]> {
  const text = await (await fetch(supervisor.metricsUrl!)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`bulkhead_runtime_socket_tampering_total{tenant="${TENANT}"}`));
}

beforeAll(async () => {
  ns = await testNamespace('offmetrics');
  stack = await startControlPlaneStack(ns, {
    actor: 'test:offboard-metrics',
    // The test runs the health pass itself.
    supervisor: { healthIntervalMs: 3_600_000, metricsPort: 0 },
  });
  ({ supervisor, cp } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await ns?.cleanup();
});

describe('an offboarded tenant on /metrics', () => {
  it("takes its socket tampering series and its share of the router's security counts with it; the id onboarded again starts at none", async () => {
    const onboard = () =>
      onboardTenant(cp, { id: TENANT, plan: 'small', isolation: 'runc', verify: false }, () => {});
    await onboard();
    const container = `bulkhead-${ns.namespace}-${TENANT}`;
    // The tenant's own code (its UID, no root) moves its socket aside and plants a link there.
    const planted = await execIn(ns.docker, container, [
      '/bin/sh',
      '-c',
      'mv /run/mcp/mcp.sock /run/mcp/real.sock && ln -s /tmp /run/mcp/mcp.sock',
    ]);
    expect(planted.exitCode, planted.output).toBe(0);
    await supervisor.health.runOnce();
    expect(supervisor.health.recycled.entries).toContainEqual({
      tenantId: TENANT,
      reason: 'socket tampered with',
    });
    expect(await tamperingSeries()).toEqual([
      `bulkhead_runtime_socket_tampering_total{tenant="${TENANT}"} 1`,
    ]);

    // What the router counts (router/dispatch/security-events.ts, router/pipeline/record-tampering.ts),
    // for this tenant and for one whose id begins with this one's.
    const redis = new Redis(ns.installation.redis);
    const prefix = ns.installation.registryPrefix;
    const other = `${TENANT}-too`;
    try {
      for (const field of [`${TENANT}:malformed_response`, `${TENANT}:oversized`, `${other}:oversized`])
        await redis.hincrby(securityCountersKey(prefix), field, 1);
      for (const field of [TENANT, other]) await redis.hincrby(unreadableRecordsKey(prefix), field, 1);

      await offboardTenant(cp, TENANT, { auditDir: join(ns.runDir, 'offboarded'), drainMs: 50 }, () => {});
      expect(await tamperingSeries()).toEqual([]);
      expect(await redis.hgetall(securityCountersKey(prefix))).toEqual({ [`${other}:oversized`]: '1' });
      expect(await redis.hgetall(unreadableRecordsKey(prefix))).toEqual({ [other]: '1' });
      await onboard();
      expect(await tamperingSeries()).toEqual([]);
    } finally {
      await redis.del(securityCountersKey(prefix), unreadableRecordsKey(prefix));
      redis.disconnect();
    }
  }, 180_000);
});
