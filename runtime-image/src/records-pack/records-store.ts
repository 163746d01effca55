// Tenant records in SQLite inside the tenant's own volume. node:sqlite is built into Node 22.13+,
// so the image needs no native addon and no network to build. Every write runs in one transaction
// together with its idempotency key: either both are committed or neither, so a crash after the
// commit and before the response is answered from the key table on retry, never written twice.
import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openDurableDatabase, statementCache } from '../durable-sqlite.ts';
import { BulkheadError } from '../../../kernel/errors/bulkhead-error.ts';
import type { RecordRow, RecordsOrder } from '../../../kernel/packs/manifest.ts';

interface RowShape {
  id: string;
  title: string;
  body: string;
  tags: string;
  ref: string | null;
  quantity: number | null;
  start_date: string | null;
  due_date: string | null;
  created_at: string;
  updated_at: string;
  created_by: string;
}

export interface RecordInput {
  title: string;
  body: string;
  tags: string[];
  ref?: string | undefined;
  quantity?: number | undefined;
  start_date?: string | undefined;
  due_date?: string | undefined;
}
export type RecordPatch = Partial<RecordInput>;

/** What records_list asks the store for (RecordsStore.list). */
export interface ListQuery {
  limit: number;
  order: RecordsOrder;
  after?: string | undefined;
  afterSeq?: number | undefined;
  dueBefore?: string | undefined;
}

function toRecord(row: RowShape): RecordRow {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    tags: JSON.parse(row.tags) as string[],
    ref: row.ref,
    quantity: row.quantity,
    start_date: row.start_date,
    due_date: row.due_date,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  };
}

/** A record's `ref` is unique in its tenant: the tool answers `duplicate_ref` (a conflict). */
export class DuplicateRefError extends BulkheadError<'duplicate_ref'> {
  constructor(message: string) {
    super('duplicate_ref', message);
  }
}

export type KeyedOutcome =
  { kind: 'fresh'; resultJson: string } | { kind: 'replay'; resultJson: string } | { kind: 'conflict' };

const ADDED_COLUMNS = ['ref TEXT', 'quantity INTEGER', 'start_date TEXT', 'due_date TEXT'];

export class RecordsStore {
  private readonly db: DatabaseSync;
  private readonly keyWindowMs: number;
  private readonly statement: (sql: string) => StatementSync;

  /** `idempotencyWindowMs`: how long a committed key answers a retried write (runtime-image/src/config.ts). */
  constructor(path: string, options: { idempotencyWindowMs: number }) {
    this.keyWindowMs = options.idempotencyWindowMs;
    this.db = openDurableDatabase(path);
    this.statement = statementCache(this.db);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        tool TEXT NOT NULL,
        key TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tool, key)
      );`);
    // Volumes written by the walking skeleton lack the newer columns: add them in place.
    const have = new Set(
      (this.db.prepare('PRAGMA table_info(records)').all() as { name: string }[]).map((c) => c.name),
    );
    for (const column of ADDED_COLUMNS) {
      if (!have.has(column.split(' ')[0]!)) this.db.exec(`ALTER TABLE records ADD COLUMN ${column}`);
    }
    this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS records_ref ON records(ref) WHERE ref IS NOT NULL');
    // Every write drops the keys past the window: without this index that was a scan of the whole
    // table, whose every write of the window (a day by default) is a row.
    this.db.exec('CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys(created_at)');
  }

  /**
   * Runs `write` and records (tool, key) with its result in the same transaction. A key seen before
   * returns the stored result text unchanged (or a conflict when the arguments differ).
   */
  keyedWrite(tool: string, key: string, digest: string, write: () => unknown): KeyedOutcome {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const seen = this.statement(
        'SELECT args_digest, result FROM idempotency_keys WHERE tool = ? AND key = ? AND created_at > ?',
      ).get(tool, key, Date.now() - this.keyWindowMs) as { args_digest: string; result: string } | undefined;
      if (seen) {
        this.db.exec('COMMIT');
        return seen.args_digest === digest
          ? { kind: 'replay', resultJson: seen.result }
          : { kind: 'conflict' };
      }
      const resultJson = JSON.stringify(write());
      this.statement('DELETE FROM idempotency_keys WHERE created_at <= ?').run(Date.now() - this.keyWindowMs);
      this.statement(
        'INSERT OR REPLACE INTO idempotency_keys (tool, key, args_digest, result, created_at) VALUES (?, ?, ?, ?, ?)',
      ).run(tool, key, digest, resultJson, Date.now());
      this.db.exec('COMMIT');
      return { kind: 'fresh', resultJson };
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Runs `step` inside a savepoint: a failing item of a bulk write leaves the others in place. */
  savepoint<T>(step: () => T): T {
    this.db.exec('SAVEPOINT item');
    try {
      const value = step();
      this.db.exec('RELEASE item');
      return value;
    } catch (error) {
      this.db.exec('ROLLBACK TO item');
      this.db.exec('RELEASE item');
      throw error;
    }
  }

  create(input: RecordInput, createdBy: string): RecordRow {
    const now = new Date().toISOString();
    const id = randomUUID();
    try {
      this.statement(
        `INSERT INTO records (id, title, body, tags, ref, quantity, start_date, due_date, created_at, updated_at, created_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        input.title,
        input.body,
        JSON.stringify(input.tags),
        input.ref ?? null,
        input.quantity ?? null,
        input.start_date ?? null,
        input.due_date ?? null,
        now,
        now,
        createdBy,
      );
    } catch (error) {
      if (input.ref !== undefined && /UNIQUE constraint failed: records\.ref/.test(String(error)))
        throw new DuplicateRefError(`ref ${input.ref} is already taken`);
      throw error;
    }
    return this.get(id)!;
  }

  get(id: string): RecordRow | undefined {
    const row = this.statement('SELECT * FROM records WHERE id = ?').get(id) as RowShape | undefined;
    return row ? toRecord(row) : undefined;
  }

  update(id: string, next: RecordRow): RecordRow {
    try {
      this.statement(
        'UPDATE records SET title = ?, body = ?, tags = ?, ref = ?, quantity = ?, start_date = ?, due_date = ?, updated_at = ? WHERE id = ?',
      ).run(
        next.title,
        next.body,
        JSON.stringify(next.tags),
        next.ref,
        next.quantity,
        next.start_date,
        next.due_date,
        new Date().toISOString(),
        id,
      );
    } catch (error) {
      if (/UNIQUE constraint failed: records\.ref/.test(String(error)))
        throw new DuplicateRefError(`ref ${next.ref} is already taken`);
      throw error;
    }
    return this.get(id)!;
  }

  delete(id: string): boolean {
    return this.statement('DELETE FROM records WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Up to `limit` records in the listing's order, each with its position (`seq`, a record's row
   * number, which a cursor holds). `after` names a record to start after; `afterSeq` a position,
   * which holds whether or not its record is still there. Undefined when `after` names no record:
   * where that listing goes on is unknown (an empty page would end it early).
   */
  list(query: ListQuery): { seq: number; record: RecordRow }[] | undefined {
    const newestFirst = query.order === 'newest_first';
    let from = query.afterSeq;
    if (query.after !== undefined) {
      const row = this.statement('SELECT seq FROM records WHERE id = ?').get(query.after) as
        { seq: number } | undefined;
      if (!row) return undefined;
      from = row.seq;
    }
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (from !== undefined) {
      where.push(`seq ${newestFirst ? '<' : '>'} ?`);
      params.push(from);
    }
    if (query.dueBefore) {
      where.push('due_date IS NOT NULL AND due_date < ?');
      params.push(query.dueBefore);
    }
    const sql = `SELECT * FROM records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
    const rows = this.statement(sql).all(...params, query.limit) as unknown as (RowShape & { seq: number })[];
    return rows.map((row) => ({ seq: row.seq, record: toRecord(row) }));
  }

  /** Health: the database answers a read. */
  ping(): boolean {
    return (this.statement('SELECT 1 AS one').get() as { one: number } | undefined)?.one === 1;
  }

  close(): void {
    this.db.close();
  }
}
