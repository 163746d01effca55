// The pin watcher's passes against a registry that this test writes (a fake of our own port,
// TenantSource): a changed tenant is told, an unchanged one is not, and an id offboarded and then
// onboarded again is a new tenant, not a change of the one before it: the earlier one is told gone,
// whether the watcher saw the id unlisted in between or not.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { PinWatcher, type ToolChange } from '../../router/tools/pin-watcher.ts';
import { tenantRecord } from '../support/tenant.ts';

function watching(): { watcher: PinWatcher; listed: TenantRecord[]; told: ToolChange[] } {
  const listed: TenantRecord[] = [];
  const told: ToolChange[] = [];
  const watcher = new PinWatcher({
    source: { list: () => Promise.resolve([...listed]) },
    logger: pino({ enabled: false }),
  });
  watcher.subscribe((change) => told.push(change));
  return { watcher, listed, told };
}

describe('PinWatcher', () => {
  it('tells a tenant whose status changed between two passes, and no other', async () => {
    const { watcher, listed, told } = watching();
    listed.push(tenantRecord('alpha'), tenantRecord('bravo'));
    await watcher.poll();
    listed[0] = tenantRecord('alpha', { status: 'suspended', createdAt: listed[0]!.createdAt });
    await watcher.poll();
    expect(told.map((change) => change.tenants)).toEqual([['alpha']]);
  });

  it('does not carry an offboarded tenant over to the next tenant onboarded under its id', async () => {
    const { watcher, listed, told } = watching();
    listed.push(tenantRecord('alpha', { status: 'suspended' }));
    await watcher.poll();
    const earlier = listed[0]!.createdAt;
    listed.length = 0; // offboarded
    await watcher.poll();
    listed.push(tenantRecord('alpha', { createdAt: later(earlier) })); // a new tenant, the same id
    await watcher.poll();
    expect(told).toEqual([
      { tenants: [], gone: [{ id: 'alpha', createdAt: earlier }], reason: expect.any(String) },
    ]);
    told.length = 0;
    listed[0] = tenantRecord('alpha', { status: 'suspended', createdAt: listed[0]!.createdAt });
    await watcher.poll();
    expect(told.map((change) => change.tenants)).toEqual([['alpha']]);
  });

  it('tells the earlier tenant gone when the id was offboarded and onboarded again between two passes', async () => {
    const { watcher, listed, told } = watching();
    listed.push(tenantRecord('alpha'), tenantRecord('bravo'));
    await watcher.poll();
    const earlier = listed[0]!.createdAt;
    listed[0] = tenantRecord('alpha', { status: 'suspended', createdAt: later(earlier) });
    await watcher.poll();
    // Gone, and not a change of the later tenant's tools: its clients were told nothing of the earlier.
    expect(told).toEqual([
      { tenants: [], gone: [{ id: 'alpha', createdAt: earlier }], reason: expect.any(String) },
    ]);
    told.length = 0;
    await watcher.poll();
    expect(told).toEqual([]);
  });
});

/** A creation time after `iso`. */
function later(iso: string): string {
  return new Date(Date.parse(iso) + 1_000).toISOString();
}
