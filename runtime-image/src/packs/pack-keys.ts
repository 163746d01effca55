// The runtime's idempotency key table for pack writes, in SQLite on the tenant's volume. A pack's
// effect cannot share a transaction with the table, so a key is claimed (committed) before the call
// is dispatched and completed with the result after: a retry of a completed key replays the stored
// result; a key whose call reached the pack but got no answer is never dispatched again (at most
// once); a key whose call never reached the pack is released. A call answered with a JSON-RPC error
// keeps that error as its answer (pack-calls.ts says why). Each claim drops the keys past the
// window, through the index on their creation time.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ProtocolError, type CallToolResult } from '@modelcontextprotocol/client';
import { openDurableDatabase, statementCache } from '../durable-sqlite.ts';

export type KeyClaim =
  { kind: 'fresh' } | { kind: 'replay'; resultJson: string } | { kind: 'conflict' } | { kind: 'pending' };

/** Where a stored answer that was a JSON-RPC error keeps it (a result is stored as it is). */
const ERROR_FIELD = 'io.bulkhead/jsonrpc_error';

/** A completed key's answer again: its result, or its JSON-RPC error thrown as the first was. */
export function replayed(resultJson: string): CallToolResult {
  const stored = JSON.parse(resultJson) as CallToolResult;
  // Alone in the stored object: a pack's result (which always has content) may not pose as one.
  const error = stored[ERROR_FIELD] as { code: number; message: string; data?: unknown } | undefined;
  if (error && Object.keys(stored).length === 1) {
    throw ProtocolError.fromError(error.code, error.message, error.data);
  }
  return stored;
}

export class PackKeys {
  private readonly db: DatabaseSync;
  private readonly windowMs: number;
  private readonly statement: (sql: string) => StatementSync;

  constructor(path: string, options: { idempotencyWindowMs: number }) {
    this.windowMs = options.idempotencyWindowMs;
    this.db = openDurableDatabase(path);
    this.statement = statementCache(this.db);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS pack_keys (
        tool TEXT NOT NULL,
        key TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        result TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tool, key)
      );
      CREATE INDEX IF NOT EXISTS pack_keys_created ON pack_keys(created_at);`);
  }

  /** Claims (tool, key) for a dispatch, or tells what an earlier claim of it became. */
  claim(tool: string, key: string, digest: string): KeyClaim {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const now = Date.now();
      this.statement('DELETE FROM pack_keys WHERE created_at <= ?').run(now - this.windowMs);
      const seen = this.statement('SELECT args_digest, result FROM pack_keys WHERE tool = ? AND key = ?').get(
        tool,
        key,
      ) as { args_digest: string; result: string | null } | undefined;
      let claim: KeyClaim;
      if (!seen) {
        this.statement(
          'INSERT INTO pack_keys (tool, key, args_digest, result, created_at) VALUES (?, ?, ?, NULL, ?)',
        ).run(tool, key, digest, now);
        claim = { kind: 'fresh' };
      } else if (seen.args_digest !== digest) claim = { kind: 'conflict' };
      else if (seen.result === null) claim = { kind: 'pending' };
      else claim = { kind: 'replay', resultJson: seen.result };
      this.db.exec('COMMIT');
      return claim;
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  complete(tool: string, key: string, result: unknown): void {
    this.statement('UPDATE pack_keys SET result = ? WHERE tool = ? AND key = ?').run(
      JSON.stringify(result),
      tool,
      key,
    );
  }

  /** The call was answered with a JSON-RPC error: a retry gets the same error (replayed). */
  completeWithError(tool: string, key: string, error: ProtocolError): void {
    const { code, message, data } = error;
    this.complete(tool, key, { [ERROR_FIELD]: { code, message, ...(data === undefined ? {} : { data }) } });
  }

  /** The call never reached the pack (or the pack honours keys itself): a retry may dispatch again. */
  release(tool: string, key: string): void {
    this.statement('DELETE FROM pack_keys WHERE tool = ? AND key = ? AND result IS NULL').run(tool, key);
  }

  close(): void {
    this.db.close();
  }
}
