// Tenant records in SQLite inside the tenant's own volume. node:sqlite is built into Node 22.13+,
// so the image needs no native addon and no network to build.
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { RecordRow } from '../../tenants/contracts/tool-manifest.ts';

interface RowShape {
  id: string;
  title: string;
  body: string;
  tags: string;
  created_at: string;
  updated_at: string;
  created_by: string;
}

function toRecord(row: RowShape): RecordRow {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    tags: JSON.parse(row.tags) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  };
}

export class RecordsStore {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        tags TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );`);
  }

  create(input: { title: string; body: string; tags: string[] }, createdBy: string): RecordRow {
    const now = new Date().toISOString();
    const id = randomUUID();
    this.db
      .prepare(
        'INSERT INTO records (id, title, body, tags, created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(id, input.title, input.body, JSON.stringify(input.tags), now, now, createdBy);
    return this.get(id)!;
  }

  get(id: string): RecordRow | undefined {
    const row = this.db.prepare('SELECT * FROM records WHERE id = ?').get(id) as RowShape | undefined;
    return row ? toRecord(row) : undefined;
  }

  update(id: string, patch: { title?: string; body?: string; tags?: string[] }): RecordRow | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch, updatedAt: new Date().toISOString() };
    this.db
      .prepare('UPDATE records SET title = ?, body = ?, tags = ?, updated_at = ? WHERE id = ?')
      .run(next.title, next.body, JSON.stringify(next.tags), next.updatedAt, id);
    return this.get(id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM records WHERE id = ?').run(id).changes > 0;
  }

  list(limit: number, after?: string): RecordRow[] {
    const rows = (after
      ? this.db
          .prepare(
            'SELECT * FROM records WHERE seq > (SELECT seq FROM records WHERE id = ?) ORDER BY seq LIMIT ?',
          )
          .all(after, limit)
      : this.db.prepare('SELECT * FROM records ORDER BY seq LIMIT ?').all(limit)) as unknown as RowShape[];
    return rows.map(toRecord);
  }

  /** Health: the database answers a read. */
  ping(): boolean {
    return (this.db.prepare('SELECT 1 AS one').get() as { one: number } | undefined)?.one === 1;
  }

  close(): void {
    this.db.close();
  }
}
