// Which tenant ids a page of the console's list holds (console/tenant-paging.ts), read from the
// registry's id order in the real Redis (kernel/registry/tenant-id-page.ts, registry-page.lua):
// bounded, walked with opaque cursors, a tenant onboarded or offboarded meanwhile moves no page's
// edge, and an installation whose tenants were registered before the order was kept reads the same.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantPage } from '../../console/tenant-paging.ts';
import { tenantIdPage, type PagePlace } from '../../kernel/registry/tenant-id-page.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { tenantOrderKey, tenantSetKey } from '../../kernel/redis/keys.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

const IDS = ['ax1', 'bx2', 'cx3', 'dx4', 'ex5', 'fx6', 'gx7'];

let ns: TestNamespace;
let redis: Redis;
let prefix: string;
let registry: TenantRegistry;

beforeAll(async () => {
  ns = await testNamespace('tenant-id-page');
  redis = new Redis(ns.installation.redis);
  prefix = ns.installation.registryPrefix;
  registry = new TenantRegistry({ redis, prefix });
  // Registered in another order than the ids'.
  for (const id of [...IDS].reverse())
    await registry.create({ id, plan: planByName('small'), isolation: 'runc' });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

const page = (query: Record<string, string> = {}, max = 3, at = prefix) =>
  tenantPage(
    (place: PagePlace, limit: number) => tenantIdPage({ redis, prefix: at }, place, limit),
    new URLSearchParams(query),
    max,
  );

describe('a page of the tenant list', () => {
  it('is the first `max` tenants without a cursor, and walks forward and back with the cursors', async () => {
    const first = await page();
    expect(first).toMatchObject({ ids: ['ax1', 'bx2', 'cx3'], total: 7, from: 1, previous: null });
    const second = await page({ cursor: first.next! });
    expect(second).toMatchObject({ ids: ['dx4', 'ex5', 'fx6'], from: 4 });
    const last = await page({ cursor: second.next! });
    expect(last).toMatchObject({ ids: ['gx7'], from: 7, next: null });
    expect((await page({ cursor: last.previous! })).ids).toEqual(['dx4', 'ex5', 'fx6']);
    expect(await page({ cursor: second.previous! })).toMatchObject({
      ids: ['ax1', 'bx2', 'cx3'],
      previous: null,
    });
  });

  it('goes back to a full first page where fewer than a page are before the cursor', async () => {
    const second = await page({ limit: '2', cursor: (await page({ limit: '1' })).next! });
    expect(second.ids).toEqual(['bx2', 'cx3']);
    expect(await page({ limit: '2', cursor: second.previous! })).toMatchObject({
      ids: ['ax1', 'bx2'],
      previous: null,
    });
  });

  it('starts after the same tenant when tenants before it came and went', async () => {
    const { next } = await page();
    await registry.create({ id: 'ax0', plan: planByName('small'), isolation: 'runc' });
    await registry.delete('ax1');
    await registry.delete('cx3');
    expect(await page({ cursor: next! })).toMatchObject({ ids: ['dx4', 'ex5', 'fx6'], total: 6, from: 3 });
    expect(await redis.zrange(tenantOrderKey(prefix), '0', '-1')).toEqual(await registry.ids());
  });

  it('reads tenants registered before the id order was kept, and keeps it from then on', async () => {
    const before = `${prefix}:before`;
    await redis.sadd(tenantSetKey(before), 'zz9', 'mm5', 'aa1', 'qq7');
    expect(await page({ limit: '2' }, 3, before)).toMatchObject({ ids: ['aa1', 'mm5'], total: 4, from: 1 });
    expect(await redis.zrange(tenantOrderKey(before), '0', '-1')).toEqual(['aa1', 'mm5', 'qq7', 'zz9']);
    await new TenantRegistry({ redis, prefix: before }).create({
      id: 'bb2',
      plan: planByName('small'),
      isolation: 'runc',
    });
    expect((await page({}, 3, before)).ids).toEqual(['aa1', 'bb2', 'mm5']);
  });

  it('refuses a limit above the bound and a cursor it did not hand out', async () => {
    for (const limit of ['0', '4', 'x', '1.5'])
      await expect(page({ limit })).rejects.toThrow(/limit must be a whole number from 1 to 3/);
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of ['%%%', 'e30', forged({ after: '../x' }), forged({ after: 'ax1', before: 'bx2' })])
      await expect(page({ cursor })).rejects.toThrow(/not a tenant page cursor/);
  });

  it('is empty for an empty list', async () => {
    expect(await page({}, 3, `${prefix}:empty`)).toEqual({
      ids: [],
      total: 0,
      from: 0,
      next: null,
      previous: null,
    });
  });
});
