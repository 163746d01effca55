// Which tenants one page of the console's list holds. Each tenant on a page costs a supervisor job
// (its runtime's state, a Docker inspect) and a rate-limiter read, so a page is bounded, and only
// its own tenants are looked at; its ids are read from the registry's id order without reading the
// others (kernel/registry/tenant-id-page.ts). The cursor names the tenant id the page starts after
// (or ends before): the list is in id order, so a tenant onboarded or offboarded meanwhile shifts no
// other page's edge, as an offset would.
import { z } from 'zod';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { TenantIdSchema } from '../kernel/tenant/tenant-spec.ts';
import type { PagePlace, TenantIdWindow } from '../kernel/registry/tenant-id-page.ts';
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

/** Reads the ids of a page: at most `limit` at `place` (kernel/registry/tenant-id-page.ts). */
export type ReadIdPage = (place: PagePlace, limit: number) => Promise<TenantIdWindow>;

/** The page of the tenant list `query` asks for (`cursor`, `limit`), read with `read`. */
export async function tenantPage(
  read: ReadIdPage,
  query: URLSearchParams,
  max: number,
): Promise<TenantPageIds> {
  const limit = queryLimit(query, { max, fallback: max });
  const raw = query.get('cursor');
  const { ids, total, start } = await read(raw === null ? undefined : decodeCursor(raw), limit);
  const [first, last] = [ids[0], ids.at(-1)];
  return {
    ids,
    total,
    from: first === undefined ? 0 : start + 1,
    next: last !== undefined && start + ids.length < total ? encodeCursor({ after: last }) : null,
    previous: first !== undefined && start > 0 ? encodeCursor({ before: first }) : null,
  };
}
