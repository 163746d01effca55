// The router's cached view of the tenant registry (router/tenancy/tenant-directory.ts): every read
// past the cache's time asks the source again, a changed record (a suspension) is served from then
// on, and a source that fails is served stale only within its allowance. (That an unchanged record
// is not parsed again is the registry's: test/integration/tenant-registry.test.ts.)
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PLAN_QUOTAS, PLANS, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { TenantDirectory, type TenantLookup } from '../../router/tenancy/tenant-directory.ts';

const RECORD: TenantRecord = {
  id: 'acme',
  displayName: 'Acme',
  uid: 100_123,
  plan: PLANS.small,
  quotas: PLAN_QUOTAS.small,
  isolation: 'runc',
  status: 'active',
  issuers: [],
  roles: {},
  tools: [],
  packs: [],
  egress: { mode: 'none' },
  secrets: [],
  retention: { auditDays: 365, exportAuditOnOffboard: true },
  createdAt: '2026-12-01T10:00:00.000Z',
  generation: 1,
};

/** A source whose record the test sets, counting reads; `down` makes it throw. */
class Source implements TenantLookup {
  stored: TenantRecord | undefined = RECORD;
  reads = 0;
  down = false;
  get(): Promise<TenantRecord | undefined> {
    this.reads++;
    return this.down ? Promise.reject(new Error('redis down')) : Promise.resolve(this.stored);
  }
}

describe('TenantDirectory', () => {
  let source: Source;
  let directory: TenantDirectory;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-04T10:00:00.000Z'));
    source = new Source();
    directory = new TenantDirectory({ source, ttlMs: 2_000, staleIfErrorMs: 10_000 });
  });
  afterEach(() => vi.useRealTimers());

  it('reads the source again once the cache time is past, and serves a change from then on', async () => {
    const first = await directory.get('acme');
    expect(first).toEqual(RECORD);
    vi.advanceTimersByTime(1_999);
    await directory.get('acme');
    expect(source.reads).toBe(1);

    source.stored = { ...RECORD, status: 'suspended', generation: 2 };
    vi.advanceTimersByTime(1);
    expect((await directory.get('acme'))?.status).toBe('suspended');
    expect(source.reads).toBe(2);

    source.stored = undefined;
    vi.advanceTimersByTime(2_000);
    expect(await directory.get('acme')).toBeUndefined();
  });

  it('serves the last record while the source fails, within the allowance only', async () => {
    const first = await directory.get('acme');
    source.down = true;
    vi.advanceTimersByTime(2_000 + 9_999);
    expect(await directory.get('acme')).toBe(first);
    vi.advanceTimersByTime(1);
    await expect(directory.get('acme')).rejects.toMatchObject({ code: 'state_unavailable' });
  });

  it('stays within its bound however many ids that name no tenant it is asked for', async () => {
    directory = new TenantDirectory({ source, ttlMs: 2_000, maxEntries: 100 });
    source.stored = undefined;
    for (let i = 0; i < 1_000; i++) await directory.get(`ghost-${i}`);
    expect(directory.size).toBe(100);
    // A tenant asked for after them is remembered like any other.
    source.stored = RECORD;
    await directory.get('acme');
    await directory.get('acme');
    expect(source.reads).toBe(1_001);
  });
});
