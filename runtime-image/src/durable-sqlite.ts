// The tenant volume's SQLite databases (the records pack's store, the runtime's key table for pack
// writes) open one way: write-ahead log, every commit synced before it is acknowledged (a write
// answered is a write kept), and a wait of up to 5 s for another connection's lock.
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export function openDurableDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;`);
  return db;
}

/**
 * `db`'s statements, each compiled once and kept: SQLite compiling the same text again on every call
 * cost about as much as running it. For a bounded set of texts (no values spliced into them).
 */
export function statementCache(db: DatabaseSync): (sql: string) => StatementSync {
  const statements = new Map<string, StatementSync>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
