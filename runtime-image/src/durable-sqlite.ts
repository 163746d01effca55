// The tenant volume's SQLite databases (the records pack's store, the runtime's key table for pack
// writes) open one way: write-ahead log, every commit synced before it is acknowledged (a write
// answered is a write kept), and a wait of up to 5 s for another connection's lock.
import { DatabaseSync } from 'node:sqlite';

export function openDurableDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;`);
  return db;
}
