// The records tools' calls inside the reference pack's own process (server.ts). Every call is
// validated with the router's own procedure (kernel/tools/tool-validation.ts) before it touches the
// store; writes run through keyedWrite, so the idempotency key commits in the write's own
// transaction: the pack's guarantee, stronger than the runtime's key table (docs/pack-runtime.md).
import { Buffer } from 'node:buffer';
import type { CallToolResult } from '@modelcontextprotocol/server';
import {
  RECORDS_CURSOR,
  RECORDS_TOOLS,
  type RecordRow,
  type RecordsOrder,
} from '../../../kernel/packs/manifest.ts';
import {
  argumentsDigest,
  IDEMPOTENCY_KEY_FIELD,
  wireTool,
  type ToolDefinition,
} from '../../../kernel/tools/tool-definition.ts';
import { toolError, toolErrorFor } from '../../../kernel/tools/tool-errors.ts';
import { validateToolArguments } from '../../../kernel/tools/tool-validation.ts';
import { DuplicateRefError, type RecordInput, type RecordPatch, type RecordsStore } from './records-store.ts';

type Handler = (args: Record<string, unknown>, actor: string) => Record<string, unknown> | CallToolResult;

function ok(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

/**
 * The JSON of the records one records_list page holds at most. A page goes out as JSON-RPC with
 * each record twice, as text and as structured content, the text's quotes and backslashes escaped
 * once more: at most about three times this, under the message bound a pack may write
 * (BULKHEAD_PACK_MAX_MESSAGE_BYTES) and the cap the router reads a runtime's answer to (4 MiB
 * each). Without it, 100 records whose bodies were 10,000 CJK characters made a 6 MiB answer, 12.7
 * MiB with control characters: the runtime killed the pack for it, or the router took the runtime
 * for a compromised one and recycled it, at every such list.
 */
export const RECORDS_PAGE_BYTES = 1024 * 1024;

/**
 * A records_list page: the first of `rows` (up to `limit`) whose JSON fits RECORDS_PAGE_BYTES, and at
 * least one (a record is far smaller). `rows` holds one more than `limit` where the store has one,
 * so the page knows whether a record remains after it: `next_cursor` is its last record's position,
 * or null when none remains (no empty page is needed to find the end). The answer's text is made of
 * the JSON measured, each row serialized once: the same text as JSON.stringify of its structured
 * content (ok).
 */
function listPage(
  rows: { seq: number; record: RecordRow }[],
  limit: number,
  order: RecordsOrder,
): CallToolResult {
  let bytes = 0;
  const records: RecordRow[] = [];
  const texts: string[] = [];
  let last = 0;
  for (const { seq, record } of rows.slice(0, limit)) {
    const text = JSON.stringify(record);
    bytes += Buffer.byteLength(text);
    if (records.length > 0 && bytes > RECORDS_PAGE_BYTES) break;
    records.push(record);
    texts.push(text);
    last = seq;
  }
  const nextCursor = records.length < rows.length ? `${order}:${last}` : null;
  return {
    content: [
      { type: 'text', text: `{"records":[${texts.join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}` },
    ],
    structuredContent: { records, next_cursor: nextCursor },
  };
}

function list(store: RecordsStore, args: Record<string, unknown>): CallToolResult {
  const limit = args.limit as number;
  const order = args.order as RecordsOrder;
  // The schema and cursorFits checked the cursor: its order is this call's.
  const cursor = typeof args.cursor === 'string' ? RECORDS_CURSOR.exec(args.cursor) : null;
  const rows = store.list({
    limit: limit + 1,
    order,
    after: args.after as string | undefined,
    afterSeq: cursor ? Number(cursor[2]) : undefined,
    dueBefore: args.due_before as string | undefined,
  });
  return rows ? listPage(rows, limit, order) : notFound(args.after);
}

function notFound(id: unknown): CallToolResult {
  return toolError('unknown_id', `no record with id ${String(id)} in this tenant`);
}

function createItems(store: RecordsStore, items: RecordInput[], actor: string): Record<string, unknown> {
  const results = items.map((item, index) => {
    try {
      return { index, status: 'created' as const, record: store.savepoint(() => store.create(item, actor)) };
    } catch (error) {
      if (!(error instanceof DuplicateRefError)) throw error;
      return {
        index,
        status: 'failed' as const,
        error: { error_class: error.errorClass, code: error.code, message: error.message },
      };
    }
  });
  const succeeded = results.filter((r) => r.status === 'created').length;
  const failed = results.length - succeeded;
  const status = failed === 0 ? 'ok' : succeeded === 0 ? 'failed' : 'partial';
  return { status, total: results.length, succeeded, failed, results };
}

function update(
  store: RecordsStore,
  args: Record<string, unknown>,
): Record<string, unknown> | CallToolResult {
  const { id, ...patch } = args as { id: string } & RecordPatch;
  const current = store.get(id);
  if (!current) return notFound(id);
  const next: RecordRow = { ...current, ...patch };
  // The router checked the pair when both came in the call; a single date meets the stored one here.
  if (next.start_date && next.due_date && next.start_date > next.due_date) {
    return toolError('date_order', `start_date ${next.start_date} would be after due_date ${next.due_date}`);
  }
  try {
    return { record: store.update(id, next) };
  } catch (error) {
    if (!(error instanceof DuplicateRefError)) throw error;
    return toolErrorFor(error);
  }
}

const HANDLERS: Record<string, (store: RecordsStore) => Handler> = {
  records_create: (store) => (args, actor) => {
    try {
      return { record: store.create(args as unknown as RecordInput, actor) };
    } catch (error) {
      if (!(error instanceof DuplicateRefError)) throw error;
      return toolErrorFor(error);
    }
  },
  records_bulk_create: (store) => (args, actor) => createItems(store, args.items as RecordInput[], actor),
  records_update: (store) => (args) => update(store, args),
  records_delete: (store) => (args) =>
    store.delete(args.id as string) ? { deleted: args.id } : notFound(args.id),
  records_get: (store) => (args) => {
    const record = store.get(args.id as string);
    return record ? { record } : notFound(args.id);
  },
  records_list: (store) => (args) => list(store, args),
};

function asResult(value: Record<string, unknown> | CallToolResult): CallToolResult {
  return 'isError' in value || 'content' in value ? (value as CallToolResult) : ok(value);
}

const DEFINITIONS = new Map<string, ToolDefinition>(RECORDS_TOOLS.map((def) => [def.name, def]));
/** What the pack lists: exactly the approved wire definitions (their digests are pinned in code). */
export const RECORDS_WIRE = RECORDS_TOOLS.map(wireTool);

/** One records tool call by `actor` (the caller the runtime names, never the arguments). */
export function callRecordsTool(
  store: RecordsStore,
  name: string,
  input: Record<string, unknown>,
  actor: string,
): CallToolResult {
  const def = DEFINITIONS.get(name);
  const handlerFor = HANDLERS[name];
  if (!def || !handlerFor) return toolError('unknown_tool', `no tool ${name}`);
  const checked = validateToolArguments(def, input);
  if (!checked.ok) return checked.error;
  const handler = handlerFor(store);
  if (!def.writes) return asResult(handler(checked.args, actor));
  const { [IDEMPOTENCY_KEY_FIELD]: key, ...args } = checked.args;
  const outcome = store.keyedWrite(def.name, key as string, argumentsDigest(args), () =>
    asResult(handler(args, actor)),
  );
  if (outcome.kind === 'conflict') {
    return toolError('idempotency_key_reused', 'this idempotency key was used with other arguments');
  }
  return JSON.parse(outcome.resultJson) as CallToolResult;
}
