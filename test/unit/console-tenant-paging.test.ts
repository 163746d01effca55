// Which tenant ids a page of the console's list holds (console/tenant-paging.ts): bounded, walked
// with opaque cursors, and a tenant onboarded or offboarded meanwhile moves no page's edge.
import { describe, expect, it } from 'vitest';
import { tenantPage } from '../../console/tenant-paging.ts';

const IDS = ['ax1', 'bx2', 'cx3', 'dx4', 'ex5', 'fx6', 'gx7'];

const page = (ids: readonly string[], query: Record<string, string> = {}, max = 3) =>
  tenantPage(ids, new URLSearchParams(query), max);

describe('a page of the tenant list', () => {
  it('is the first `max` tenants without a cursor, and walks forward and back with the cursors', () => {
    const first = page(IDS);
    expect(first).toMatchObject({ ids: ['ax1', 'bx2', 'cx3'], total: 7, from: 1, previous: null });
    const second = page(IDS, { cursor: first.next! });
    expect(second).toMatchObject({ ids: ['dx4', 'ex5', 'fx6'], from: 4 });
    const last = page(IDS, { cursor: second.next! });
    expect(last).toMatchObject({ ids: ['gx7'], from: 7, next: null });
    expect(page(IDS, { cursor: last.previous! }).ids).toEqual(['dx4', 'ex5', 'fx6']);
    expect(page(IDS, { cursor: second.previous! })).toMatchObject({
      ids: ['ax1', 'bx2', 'cx3'],
      previous: null,
    });
  });

  it('goes back to a full first page where fewer than a page are before the cursor', () => {
    const second = page(IDS, { limit: '2', cursor: page(IDS, { limit: '1' }).next! });
    expect(second.ids).toEqual(['bx2', 'cx3']);
    expect(page(IDS, { limit: '2', cursor: second.previous! })).toMatchObject({
      ids: ['ax1', 'bx2'],
      previous: null,
    });
  });

  it('starts after the same tenant when tenants before it came and went', () => {
    const { next } = page(IDS);
    const changed = ['ax0', 'bx2', 'cx3', 'dx4', 'ex5', 'fx6', 'gx7'].filter((id) => id !== 'cx3');
    expect(page(changed, { cursor: next! })).toMatchObject({ ids: ['dx4', 'ex5', 'fx6'], from: 3 });
  });

  it('refuses a limit above the bound and a cursor it did not hand out', () => {
    for (const limit of ['0', '4', 'x', '1.5'])
      expect(() => page(IDS, { limit })).toThrow(/limit must be a whole number from 1 to 3/);
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of ['%%%', 'e30', forged({ after: '../x' }), forged({ after: 'ax1', before: 'bx2' })])
      expect(() => page(IDS, { cursor })).toThrow(/not a tenant page cursor/);
  });

  it('is empty for an empty list', () => {
    expect(page([])).toEqual({ ids: [], total: 0, from: 0, next: null, previous: null });
  });
});
