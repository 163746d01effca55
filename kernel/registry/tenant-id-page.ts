// One page of the tenant ids in id order, read from the sorted set the registry's scripts keep beside
// the tenant set (kernel/redis/lua/registry-page.lua): its cost grows with the page and the log of
// the number of tenants, not with the number of tenants, as sorting the whole set for each page did.
import type { Redis } from 'ioredis';
import { tenantOrderKey, tenantSetKey } from '../redis/keys.ts';
import { redisScripts } from '../redis/scripts.ts';

/** Where a page starts: after a tenant id, or ends: before one; undefined: the first page. */
export type PagePlace = { after: string } | { before: string } | undefined;

export interface TenantIdWindow {
  /** The page's ids, in id order. */
  ids: string[];
  /** Tenants in the whole list. */
  total: number;
  /** The 0-based place of the page's first id in the whole list. */
  start: number;
}

/** At most `limit` ids at `place`; before a place with fewer than `limit` ids before it: the first page. */
export async function tenantIdPage(
  state: { redis: Redis; prefix: string },
  place: PagePlace,
  limit: number,
): Promise<TenantIdWindow> {
  const where = place === undefined ? 'first' : 'after' in place ? 'after' : 'before';
  const id = place === undefined ? '' : 'after' in place ? place.after : place.before;
  const [total, start, ...ids] = await redisScripts(state.redis).registryPage(
    { tenants: tenantSetKey(state.prefix), order: tenantOrderKey(state.prefix) },
    { where, id, limit },
  );
  return { ids: ids.map(String), total: Number(total), start: Number(start) };
}
