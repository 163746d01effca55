// The idempotency key tables on a tenant's volume (the records pack's, and the runtime's for pack
// writes) drop the keys past their window on every write, through an index on their creation time:
// a scan of the whole table there made each write cost in proportion to the writes of the window
// (a day by default). Also on a volume whose table was made before the index existed.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordsStore } from '../../runtime-image/src/records-pack/records-store.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';

const WINDOW_MS = 60_000;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-key-tables-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** How SQLite runs the expiry's DELETE on the database at `path` (EXPLAIN QUERY PLAN's details). */
function expiryPlan(path: string, table: string): string {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare(`EXPLAIN QUERY PLAN DELETE FROM ${table} WHERE created_at <= ?`).all(0) as {
      detail: string;
    }[];
    return rows.map((row) => row.detail).join('; ');
  } finally {
    db.close();
  }
}

function keyCount(path: string, table: string): number {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Moves every key of `table` back past the window, as if written long ago. */
function age(path: string, table: string): void {
  const db = new DatabaseSync(path);
  try {
    db.prepare(`UPDATE ${table} SET created_at = ?`).run(Date.now() - 2 * WINDOW_MS);
  } finally {
    db.close();
  }
}

describe("the records pack's key table", () => {
  it('drops expired keys through the index, keeping the live ones', () => {
    const path = join(dir, 'records.db');
    const store = new RecordsStore(path, { idempotencyWindowMs: WINDOW_MS });
    const write = (key: string) => store.keyedWrite('records_create', key, 'd'.repeat(64), () => ({ key }));
    for (let i = 0; i < 3; i++) write(randomUUID());
    age(path, 'idempotency_keys');
    const live = randomUUID();
    expect(write(live).kind).toBe('fresh');
    expect(keyCount(path, 'idempotency_keys')).toBe(1);
    expect(write(live).kind).toBe('replay');
    store.close();
    expect(expiryPlan(path, 'idempotency_keys')).toMatch(/USING (COVERING )?INDEX idempotency_keys_created/);
  });

  it('adds the index to a table made before it existed', () => {
    const path = join(dir, 'records.db');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE idempotency_keys (
      tool TEXT NOT NULL, key TEXT NOT NULL, args_digest TEXT NOT NULL, result TEXT NOT NULL,
      created_at INTEGER NOT NULL, PRIMARY KEY (tool, key))`);
    old.close();
    expect(expiryPlan(path, 'idempotency_keys')).toMatch(/^SCAN idempotency_keys/);
    new RecordsStore(path, { idempotencyWindowMs: WINDOW_MS }).close();
    expect(expiryPlan(path, 'idempotency_keys')).toMatch(/USING (COVERING )?INDEX idempotency_keys_created/);
  });
});

describe("the runtime's key table for pack writes", () => {
  it('drops expired keys through the index, keeping the live ones', () => {
    const path = join(dir, 'pack-keys.db');
    const keys = new PackKeys(path, { idempotencyWindowMs: WINDOW_MS });
    for (let i = 0; i < 3; i++) expect(keys.claim('notes_add', randomUUID(), 'd').kind).toBe('fresh');
    age(path, 'pack_keys');
    const live = randomUUID();
    expect(keys.claim('notes_add', live, 'd').kind).toBe('fresh');
    expect(keyCount(path, 'pack_keys')).toBe(1);
    keys.complete('notes_add', live, { ok: true });
    expect(keys.claim('notes_add', live, 'd')).toEqual({ kind: 'replay', resultJson: '{"ok":true}' });
    keys.close();
    expect(expiryPlan(path, 'pack_keys')).toMatch(/USING (COVERING )?INDEX pack_keys_created/);
  });
});
