// An onboarding whose runtime fails and whose rollback then fails too (here: another operator
// changed the new record meanwhile, so the rollback's suspend is a generation_conflict), on real
// Redis: the error keeps the first failure's code and message, names the rollback's failure, and
// chains the first failure as its cause. The runtime client is the supervisor's port, answered here
// by the test (the engine's refusal itself: test/e2e/onboard-rollback.test.ts).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { BulkheadError, exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { onboardTenant } from '../../tenants/control-plane/onboard.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;
let audit: AuditTrail;

beforeAll(async () => {
  ns = await testNamespace('rbfail');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  audit = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('an onboarding whose rollback fails', () => {
  it('reports the failure that called for the rollback, with the rollback failure beside it', async () => {
    const engineRefusal = new BulkheadError('runtime_failed', 'the engine refused to create the container');
    const removed: string[] = [];
    const runtimes = {
      // Another operator changes the new record while its runtime is being made, which then fails.
      async ensure(id: string) {
        const now = await registry.require(id);
        await registry.update(id, {
          expectedGeneration: now.generation,
          changes: { displayName: 'renamed meanwhile' },
          author: { actor: 'other-operator' },
        });
        throw engineRefusal;
      },
      remove(id: string) {
        removed.push(id);
        return Promise.resolve();
      },
    } as unknown as RuntimeClient;
    const lines: string[] = [];
    const error: unknown = await onboardTenant(
      { registry, audit, runtimes },
      { id: 'romeo', plan: 'small', isolation: 'runc', verify: false },
      (line) => lines.push(line),
    ).then(
      () => expect.fail('expected a failure'),
      (thrown: unknown) => thrown,
    );
    expect(isBulkheadError(error, 'runtime_failed')).toBe(true);
    expect(exitCodeOf(error)).toBe(exitCodeOf(engineRefusal));
    const failure = error as BulkheadError;
    expect(failure.message).toContain('the engine refused to create the container');
    expect(failure.message).toMatch(/rolling the onboarding back failed too \(tenant "romeo" changed/);
    expect(failure.message).toContain('bulkhead offboard romeo');
    expect(failure.cause).toBe(engineRefusal);
    expect(failure.details).toEqual({
      rollback: { code: 'generation_conflict', message: expect.stringContaining('tenant "romeo" changed') },
    });
    // The rollback stopped at the conflict: the other operator's record is kept, nothing purged.
    expect(removed).toEqual([]);
    expect((await registry.require('romeo')).displayName).toBe('renamed meanwhile');
    expect(lines.some((line) => line.includes('rolled back:'))).toBe(false);
  });
});
