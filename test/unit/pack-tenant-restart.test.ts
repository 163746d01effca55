// A tenant with packs runs its composed image (supervisor/docker/tenant-images.ts), which the
// supervisor knows only once it has prepared it, in memory. A restarted supervisor has prepared none:
// its health pass and rollout guard must not take the plain runtime image's spec for the tenant's
// (its runtime would look "spec changed" and be replaced, and a failure kept for the rollout would
// be settled). The real controller and health pass over the in-memory driver; the engine's images
// (MemoryImages' `built`) outlive the supervisor, as they do.
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { HealthMonitor } from '../../supervisor/lifecycle/health-monitor.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { MemoryImages } from '../support/fakes/memory-images.ts';
import { memoryLedger } from '../support/fakes/memory-rollout-ledger.ts';
import { memoryController } from '../support/lifecycle-settings.ts';
import { tenantRecord } from '../support/tenant.ts';

const withNotes = (version: string, generation = 1): TenantRecord =>
  tenantRecord('acme', { generation, packs: [{ name: 'notes', version, agentsAlone: false }] });

/** One supervisor's controller over the engine's driver and images (`built`), and a health pass. */
function supervisor(driver: MemoryDriver, built: Set<string>, records: Map<string, TenantRecord>) {
  const images = new MemoryImages(built);
  const controller = memoryController({
    driver,
    registry: { get: (id) => Promise.resolve(records.get(id)) },
    images,
  });
  const { ledger, kept } = memoryLedger();
  const passes: { due: number; failed: number }[] = [];
  const health = new HealthMonitor({
    view: driver,
    controller,
    tenants: { get: (id) => Promise.resolve(records.get(id)) },
    replacementsPerPass: 2,
    ledger,
    // Longer than a test: a failure is settled by a spec change or the tenant's end, not by the
    // runtime answering for the whole window.
    probationMs: 60_000,
    onPass: (pass) => passes.push(pass),
  });
  return { images, controller, health, kept, passes };
}

/** A pack tenant's runtime brought up by one supervisor, then a second one (a restart) over the same engine. */
async function restarted() {
  const driver = new MemoryDriver(1);
  const built = new Set<string>();
  const records = new Map([['acme', withNotes('1.0.0')]]);
  await supervisor(driver, built, records).controller.ensureRuntime(withNotes('1.0.0'));
  const running = { ...driver.runtimes.get('acme')! };
  const after = supervisor(driver, built, records);
  // A replacement of the runtime failed before the restart, on the spec it runs now.
  after.kept.set('acme', running.specHash);
  return { driver, records, running, after };
}

describe('a pack tenant’s runtime after a supervisor restart', () => {
  it('is not replaced by the health pass, and the failure kept for it is not settled', async () => {
    const { driver, running, after } = await restarted();
    await after.health.runOnce();
    expect(driver.runtimes.get('acme')).toMatchObject({ runtimeId: running.runtimeId, image: running.image });
    expect(after.health.recycled.total).toBe(0);
    expect(after.passes).toEqual([{ due: 0, failed: 1 }]);
    expect(after.kept.get('acme')).toBe(running.specHash);
  });

  it('is left alone while its image cannot be looked up (spec not known: not due, nothing settled)', async () => {
    const { driver, running, after } = await restarted();
    after.images.unresolvable = true;
    await after.health.runOnce();
    expect(driver.runtimes.get('acme')?.runtimeId).toBe(running.runtimeId);
    expect(after.passes).toEqual([{ due: 0, failed: 1 }]);
    expect(after.kept.get('acme')).toBe(running.specHash);
  });

  it('is replaced onto the image of new pins, built by the recycle rather than by the pass', async () => {
    const { driver, records, running, after } = await restarted();
    records.set('acme', withNotes('1.1.0', 2));
    await after.health.runOnce();
    expect(after.passes).toEqual([{ due: 1, failed: 0 }]);
    expect(after.images.prepares).toEqual([MemoryImages.refOf(withNotes('1.1.0'))]);
    expect(driver.runtimes.get('acme')).toMatchObject({ image: MemoryImages.refOf(withNotes('1.1.0')) });
    expect(driver.runtimes.get('acme')?.runtimeId).not.toBe(running.runtimeId);
    expect(after.kept.has('acme')).toBe(false);
  });
});
