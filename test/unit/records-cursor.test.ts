// records_list 1.2.0 says where the next page starts (next_cursor), and null exactly when no record
// remains after the page (runtime-image/src/records-pack/records-calls.ts). A client that follows
// the cursor reaches every record that is there throughout exactly once, whatever is inserted and
// deleted between its pages, the page's own last record included. The records pack's own store
// (SQLite in a temporary directory) and call function.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callRecordsTool } from '../../runtime-image/src/records-pack/records-calls.ts';
import { RecordsStore } from '../../runtime-image/src/records-pack/records-store.ts';

let dir: string;
let store: RecordsStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-records-cursor-'));
  store = new RecordsStore(join(dir, 'records.db'), { idempotencyWindowMs: 60_000 });
});

afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

interface Page {
  ids: string[];
  next: string | null;
}

function call(args: Record<string, unknown>) {
  return callRecordsTool(store, 'records_list', args, 'agent');
}

function page(args: Record<string, unknown>): Page {
  const result = call(args);
  expect(result.isError, JSON.stringify(result).slice(0, 300)).toBeFalsy();
  const content = result.structuredContent as { records: { id: string }[]; next_cursor: string | null };
  // The text is the structured content's JSON, as every records tool answers.
  expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(content) }]);
  return { ids: content.records.map((r) => r.id), next: content.next_cursor };
}

function fill(count: number, fields: { body?: string; due_date?: string } = {}): string[] {
  return Array.from(
    { length: count },
    (_, i) => store.create({ title: `r${i}`, body: fields.body ?? '', tags: [], ...fields }, 'agent').id,
  );
}

/** Every page of a listing, following next_cursor; `between` runs after each page. */
function follow(args: Record<string, unknown>, between: (page: Page) => void = () => undefined): Page[] {
  const pages = [page(args)];
  while (pages.at(-1)!.next !== null) {
    between(pages.at(-1)!);
    pages.push(page({ ...args, cursor: pages.at(-1)!.next }));
    expect(pages.length).toBeLessThan(1000);
  }
  return pages;
}

describe('records_list next_cursor', () => {
  it('is null on the last page, also when that page is exactly full, and never on an earlier one', () => {
    const created = fill(10);
    for (const [limit, sizes] of [
      [5, [5, 5]],
      [4, [4, 4, 2]],
      [10, [10]],
      [11, [10]],
      [1, Array<number>(10).fill(1)],
    ] as const) {
      const pages = follow({ limit });
      expect(pages.map((p) => p.ids.length)).toEqual(sizes);
      expect(pages.flatMap((p) => p.ids)).toEqual(created);
      expect(pages.map((p) => p.next === null)).toEqual(sizes.map((_, i) => i === sizes.length - 1));
    }
    const newest = follow({ limit: 5, order: 'newest_first' });
    expect(newest.flatMap((p) => p.ids)).toEqual([...created].reverse());
    expect(newest.map((p) => p.next === null)).toEqual([false, true]);
  });

  it('is null on an empty store and counts only the records the filter keeps', () => {
    expect(page({})).toEqual({ ids: [], next: null });
    const due = fill(3, { due_date: '2026-01-01' });
    fill(3, { due_date: '2027-01-01' });
    const pages = follow({ limit: 3, due_before: '2026-06-01' });
    expect(pages).toEqual([{ ids: due, next: null }]);
  });

  it('is set on a page that ended early at its byte bound', () => {
    const created = fill(100, { body: '中'.repeat(10_000) });
    const pages = follow({ limit: 100 });
    expect(pages[0]!.ids.length).toBeLessThan(100);
    expect(pages[0]!.next).not.toBeNull();
    expect(pages.flatMap((p) => p.ids)).toEqual(created);
  });

  it('reaches every record there throughout exactly once under inserts and deletes between pages', () => {
    for (const order of ['oldest_first', 'newest_first'] as const) {
      const initial = fill(60);
      const deleted = new Set<string>();
      const inserted: string[] = [];
      const read = new Set<string>();
      const unread: string[] = [];
      const pages = follow({ limit: 7, order }, (last) => {
        for (const id of last.ids) read.add(id);
        // The page's own last record (where the cursor points), one already read and one not yet.
        const ahead = initial.find((id) => !deleted.has(id) && !read.has(id));
        if (ahead) unread.push(ahead);
        for (const id of [last.ids.at(-1)!, last.ids[0]!, ...(ahead ? [ahead] : [])]) {
          if (store.delete(id)) deleted.add(id);
        }
        inserted.push(...fill(2));
      });
      const seen = pages.flatMap((p) => p.ids);
      expect(new Set(seen).size).toBe(seen.length);
      const throughout = initial.filter((id) => !deleted.has(id));
      expect(seen.filter((id) => throughout.includes(id))).toEqual(
        order === 'oldest_first' ? throughout : [...throughout].reverse(),
      );
      // No record deleted before its page was read is on it.
      expect(unread.length).toBeGreaterThan(3);
      expect(seen.filter((id) => unread.includes(id))).toEqual([]);
      // Oldest first goes on into what was inserted; newest first started above it.
      expect(seen.filter((id) => inserted.includes(id))).toEqual(order === 'oldest_first' ? inserted : []);
      for (const id of [...initial, ...inserted]) store.delete(id);
    }
  });

  it('refuses a cursor with another order, beside after, or not made by a listing', () => {
    fill(3);
    const next = page({ limit: 1, order: 'newest_first' }).next!;
    const refused = (args: Record<string, unknown>) =>
      (call(args).structuredContent as { error: { code: string; message: string } }).error;
    expect(refused({ cursor: next })).toMatchObject({
      code: 'invalid_arguments',
      message: expect.stringContaining('pass order newest_first') as string,
    });
    expect(refused({ cursor: next, order: 'newest_first', after: page({}).ids[0] })).toMatchObject({
      code: 'invalid_arguments',
    });
    for (const cursor of [
      '',
      'newest_first:0',
      'newest_first:1e3',
      'sideways:3',
      `newest_first:${'9'.repeat(16)}`,
    ])
      expect(refused({ cursor, order: 'newest_first' }).code).toBe('invalid_arguments');
  });

  it('answers after naming no record with unknown_id, not an empty page that would end the list', () => {
    const [first, second] = fill(3);
    store.delete(first!);
    const result = call({ after: first });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ error: { code: 'unknown_id' } });
    expect(page({ after: second }).ids).toHaveLength(1);
  });
});
