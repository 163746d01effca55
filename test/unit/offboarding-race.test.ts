// A request about a tenant's runtime that waited (for the tenant's image, or for its lock) while an
// offboarding suspended and purged the tenant: what it would create then would outlive the
// offboarding. The controller reads the registry again under the tenant's lock (tenant-gate.ts).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

/** A controller over a registry the test edits, whose image builds wait until `release`. */
function setup(): {
  driver: MemoryDriver;
  records: Map<string, TenantRecord>;
  runtimes: RuntimeController;
  holdImages(): () => void;
} {
  const driver = new MemoryDriver();
  const records = new Map([['acme', tenantRecord('acme')]]);
  let imageReady: Promise<void> = Promise.resolve();
  const runtimes = new RuntimeController({
    driver,
    image: 'bulkhead/runtime:test',
    routerPublicKey: 'PEM',
    logger: pino({ level: 'silent' }),
    probe: () => Promise.resolve(true),
    settings: lifecycleSettings({ healthTimeoutMs: 50, routeSettleMs: 0 }),
    registry: { get: (id) => Promise.resolve(records.get(id)) },
    images: {
      prepare: () => imageReady,
      imageFor: () => undefined,
      resolve: () => Promise.resolve(undefined),
    },
  });
  const holdImages = (): (() => void) => {
    let release!: () => void;
    imageReady = new Promise((resolve) => (release = resolve));
    return release;
  };
  return { driver, records, runtimes, holdImages };
}

/** What `tenants offboard` asks of the supervisor, and the registry changes around it. */
async function offboard(s: ReturnType<typeof setup>): Promise<void> {
  s.records.set('acme', tenantRecord('acme', { status: 'suspended' }));
  await s.runtimes.remove('acme', false);
  await s.runtimes.remove('acme', true);
  s.records.delete('acme');
}

describe('a request that outlived its tenant’s offboarding', () => {
  it('creates no runtime and no volume for an ensure asked before the offboarding', async () => {
    const s = setup();
    const release = s.holdImages();
    const ensure = s.runtimes.ensure(tenantRecord('acme'));
    await offboard(s);
    release();
    await expect(ensure).rejects.toMatchObject({ code: 'tenant_not_found' });
    expect(s.driver.runtimes.size).toBe(0);
    expect(s.driver.volumes.size).toBe(0);
  });

  it('creates no volume for a prepare asked before the offboarding', async () => {
    const s = setup();
    const release = s.holdImages();
    const prepare = s.runtimes.prepare(tenantRecord('acme'));
    await offboard(s);
    release();
    await expect(prepare).rejects.toMatchObject({ code: 'tenant_not_found' });
    expect(s.driver.volumes.size).toBe(0);
    expect(s.driver.calls.map((c) => c.op)).not.toContain('prepareVolume');
  });

  it('refuses an ensure of a tenant suspended since its record was read, and starts nothing', async () => {
    const s = setup();
    s.records.set('acme', tenantRecord('acme', { status: 'suspended' }));
    await expect(s.runtimes.ensure(tenantRecord('acme'))).rejects.toMatchObject({ code: 'tenant_suspended' });
    expect(s.driver.calls.map((c) => c.op)).not.toContain('ensure');
  });

  it('removes, and does not bring back, the runtime of a tenant suspended since a recycle was asked', async () => {
    const s = setup();
    await s.runtimes.ensure(tenantRecord('acme'));
    s.records.set('acme', tenantRecord('acme', { status: 'suspended' }));
    await s.runtimes.recycle(tenantRecord('acme'), 'spec changed');
    expect(s.driver.runtimes.size).toBe(0);
    expect(s.driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(1);
    expect(s.driver.volumes.has('acme')).toBe(true);
  });

  it('readies the volume of an active tenant without creating its runtime', async () => {
    const s = setup();
    await s.runtimes.prepare(tenantRecord('acme'));
    expect([...s.driver.volumes]).toEqual(['acme']);
    expect(s.driver.runtimes.size).toBe(0);
  });
});
