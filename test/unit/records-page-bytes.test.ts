// A records_list page is bounded by its bytes as well as by `limit` (runtime-image/src/records-pack/
// records-calls.ts): a page of large records ends early, its answer within the message bound a pack
// may write and the cap the router reads a runtime's answer to, and paging on from the last id
// reaches every record once. The records pack's own store (SQLite in a temporary directory).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RUNTIME_ANSWER_BYTES } from '../../kernel/wire/answer-bounds.ts';
import { callRecordsTool } from '../../runtime-image/src/records-pack/records-calls.ts';
import { RecordsStore } from '../../runtime-image/src/records-pack/records-store.ts';

let dir: string;
let store: RecordsStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-records-page-'));
  store = new RecordsStore(join(dir, 'records.db'), { idempotencyWindowMs: 60_000 });
});

afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

/** The page's records' ids and the size of its answer as it goes out (JSON-RPC, in bytes). */
function listPage(args: Record<string, unknown>): { ids: string[]; wireBytes: number } {
  const result = callRecordsTool(store, 'records_list', args, 'agent');
  expect(result.isError, JSON.stringify(result).slice(0, 300)).toBeFalsy();
  const records = (result.structuredContent as { records: { id: string }[] }).records;
  // The text is the structured content's JSON, as every records tool answers.
  expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(result.structuredContent) }]);
  const wire = JSON.stringify({ jsonrpc: '2.0', id: 1, result });
  return { ids: records.map((r) => r.id), wireBytes: Buffer.byteLength(wire) };
}

function fill(count: number, body: string): string[] {
  return Array.from(
    { length: count },
    (_, i) => store.create({ title: `r${i}`, body, tags: [] }, 'agent').id,
  );
}

describe('a records_list page', () => {
  it('of records as large as they may be ends early, its answer under the answer cap', () => {
    for (const body of ['中'.repeat(10_000), '\u0001'.repeat(10_000)]) {
      store.close();
      store = new RecordsStore(join(dir, `records-${body.charCodeAt(0)}.db`), {
        idempotencyWindowMs: 60_000,
      });
      const created = fill(100, body);
      const first = listPage({ limit: 100 });
      expect(first.wireBytes).toBeLessThan(MAX_RUNTIME_ANSWER_BYTES);
      expect(first.ids.length).toBeLessThan(100);
      // Paged on from the last id: every record once, and an empty page at the end.
      const seen = [...first.ids];
      for (let page = listPage({ limit: 100, after: seen.at(-1) }); page.ids.length > 0;) {
        expect(page.wireBytes).toBeLessThan(MAX_RUNTIME_ANSWER_BYTES);
        seen.push(...page.ids);
        page = listPage({ limit: 100, after: seen.at(-1) });
      }
      expect(seen).toHaveLength(100);
      expect(new Set(seen)).toEqual(new Set(created));
    }
  });

  it('of small records holds as many as the limit asks for', () => {
    fill(100, 'a note');
    expect(listPage({ limit: 100 }).ids).toHaveLength(100);
  });
});
