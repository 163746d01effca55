// The pin watcher's passes against a registry that this test writes (a fake of our own port,
// TenantSource): a changed tenant is told, an unchanged one is not, and an id offboarded and then
// onboarded again is a new tenant, not a change of the one before it.
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
    listed[0] = tenantRecord('alpha', { status: 'suspended' });
    await watcher.poll();
    expect(told.map((change) => change.tenants)).toEqual([['alpha']]);
  });

  it('does not carry an offboarded tenant over to the next tenant onboarded under its id', async () => {
    const { watcher, listed, told } = watching();
    listed.push(tenantRecord('alpha', { status: 'suspended' }));
    await watcher.poll();
    listed.length = 0; // offboarded
    await watcher.poll();
    listed.push(tenantRecord('alpha')); // a new tenant, the same id, another record
    await watcher.poll();
    expect(told).toEqual([]);
    listed[0] = tenantRecord('alpha', { status: 'suspended' });
    await watcher.poll();
    expect(told.map((change) => change.tenants)).toEqual([['alpha']]);
  });
});
