// Which tenants one page of the console's list holds. Each tenant on a page costs a supervisor job
// (its runtime's state, a Docker inspect) and a rate-limiter read, so a page is bounded, and only
// its own tenants are looked at. The cursor names the tenant id the page starts after (or ends
// before): the list is in id order, so a tenant onboarded or offboarded meanwhile shifts no other
// page's edge, as an offset would.
import { z } from 'zod';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { TenantIdSchema } from '../kernel/tenant/tenant-spec.ts';
import { queryLimit } from './http/http-kit.ts';

/** Where a page starts: after a tenant id (the next page), or ends: before one (the previous). */
const CursorSchema = z.union([
  z.strictObject({ after: TenantIdSchema }),
  z.strictObject({ before: TenantIdSchema }),
]);
type Cursor = z.infer<typeof CursorSchema>;

export interface TenantPageIds {
  /** The page's tenant ids, in id order. */
  ids: string[];
  /** Tenants in the whole list. */
  total: number;
  /** The position of the page's first tenant in the whole list, from 1 (0 when the page is empty). */
  from: number;
  /** The cursor of the page after this one; null at the end of the list. */
  next: string | null;
  /** The cursor of the page before this one; null at its start. */
  previous: string | null;
}

/** Opaque to the page: it hands back what it was given. */
function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const cursor = CursorSchema.safeParse(parsed);
  if (!cursor.success) throw new BulkheadError('invalid_input', 'cursor is not a tenant page cursor');
  return cursor.data;
}

/** The page of `ids` (every tenant id, sorted) that `query` asks for (`cursor`, `limit`). */
export function tenantPage(ids: readonly string[], query: URLSearchParams, max: number): TenantPageIds {
  const limit = queryLimit(query, { max, fallback: max });
  const raw = query.get('cursor');
  const cursor = raw === null ? undefined : decodeCursor(raw);
  let [start, end] = [0, Math.min(ids.length, limit)];
  if (cursor !== undefined && 'after' in cursor) {
    start = firstAbove(ids, cursor.after, false);
    end = Math.min(ids.length, start + limit);
  } else if (cursor !== undefined) {
    end = firstAbove(ids, cursor.before, true);
    start = Math.max(0, end - limit);
    // Back at the start of the list: the first page, full, as it was first shown.
    if (start === 0) end = Math.min(ids.length, limit);
  }
  const page = ids.slice(start, end);
  return {
    ids: page,
    total: ids.length,
    from: page.length === 0 ? 0 : start + 1,
    next: end < ids.length && page.length > 0 ? encodeCursor({ after: page.at(-1)! }) : null,
    previous: start > 0 ? encodeCursor({ before: ids[start]! }) : null,
  };
}

/** The index of the first id above `id` (or at it, with `inclusive`) in the sorted `ids`. */
function firstAbove(ids: readonly string[], id: string, inclusive: boolean): number {
  let [low, high] = [0, ids.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    const below = inclusive ? ids[middle]! < id : ids[middle]! <= id;
    if (below) low = middle + 1;
    else high = middle;
  }
  return low;
}
