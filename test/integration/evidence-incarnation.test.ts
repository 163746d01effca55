// The isolation evidence kept for a tenant is that tenant's, not an earlier one's of the same id. A
// verify that read the record before an offboarding (a console verify during the drain) saves its
// report after the offboarding forgot the tenant's evidence, and an offboarding stopped between the
// record's delete and the forget leaves the report it had: neither may outlive the tenant as a key,
// nor be shown, about a container now gone, as the evidence of the id onboarded again.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceKey } from '../../kernel/redis/keys.ts';
import { planByName, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { IsolationReport } from '../../supervisor/client/isolation-report.ts';
import { EvidenceStore } from '../../tenants/control-plane/evidence.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { until } from '../support/until.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;
let evidence: EvidenceStore;

const reportOf = (tenant: TenantRecord, runtimeId: string): IsolationReport => ({
  tenantId: tenant.id,
  runtimeId,
  isolation: tenant.isolation,
  checkedAt: new Date().toISOString(),
  pass: true,
  checks: [{ id: 'network.none', control: 'no network', source: 'docker', pass: true, why: 'none' }],
});

beforeAll(async () => {
  ns = await testNamespace('evidence');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  evidence = new EvidenceStore({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

/** Waits out the millisecond `createdAt` was stamped in, so that the id's next record differs. */
function pastCreation(record: TenantRecord): Promise<void> {
  return until(() => Date.now() > Date.parse(record.createdAt), "the clock past the record's creation", 1);
}

describe('kept isolation evidence', () => {
  it("keeps nothing of a verify that finishes after the tenant's offboarding", async () => {
    const earlier = await registry.create({ id: 'acme', plan: planByName('small'), isolation: 'runc' });
    await evidence.save(reportOf(earlier, 'c0ffee-earlier'), earlier.createdAt);
    expect((await evidence.latest('acme', earlier.createdAt))?.runtimeId).toBe('c0ffee-earlier');
    // The offboarding deletes the record and forgets the evidence; a verify that had read the
    // record before saves its report after that.
    await registry.delete('acme');
    await evidence.forget('acme');
    await evidence.save(reportOf(earlier, 'c0ffee-late'), earlier.createdAt);
    expect(await redis.exists(evidenceKey(ns.installation.registryPrefix, 'acme'))).toBe(0);
    await pastCreation(earlier);
    const later = await registry.create({ id: 'acme', plan: planByName('small'), isolation: 'runc' });
    expect(await evidence.latest('acme', later.createdAt)).toBeNull();
  });

  it('shows the id onboarded again no report of the earlier tenant an offboarding left behind', async () => {
    const earlier = await registry.create({ id: 'globex', plan: planByName('small'), isolation: 'runc' });
    await evidence.save(reportOf(earlier, 'c0ffee-earlier'), earlier.createdAt);
    // An offboarding stopped between the record's delete and the evidence's forget.
    await registry.delete('globex');
    await pastCreation(earlier);
    const later = await registry.create({ id: 'globex', plan: planByName('small'), isolation: 'runc' });
    expect(await evidence.latest('globex', later.createdAt)).toBeNull();
    // Its own first report is shown.
    await evidence.save(reportOf(later, 'c0ffee-later'), later.createdAt);
    expect((await evidence.latest('globex', later.createdAt))?.runtimeId).toBe('c0ffee-later');
  });
});
