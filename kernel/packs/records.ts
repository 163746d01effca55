// The records tool pack: schemas, semantic rules and approved definitions. The router validates
// against these before dispatch; the tenant runtime implements the same definitions and re-checks.
import { z } from 'zod';
import { dateInRange, datesOrdered, eachItem, notNegative, safeSegment } from '../tools/semantic-rules.ts';
import type {
  SemanticIssue,
  SemanticValidator,
  ToolDefinition,
  ToolEffect,
} from '../tools/tool-definition.ts';

export const RecordId = z.uuid();
const Title = z.string().min(1).max(200);
const Body = z.string().max(10_000);
const Tags = z
  .array(
    z
      .string()
      .min(1)
      .max(40)
      .regex(/^[\w.-]+$/),
  )
  .max(20);
/** The caller's own reference; it names export files, so it must be one safe path segment. */
const Ref = z.string().min(1).max(64).describe('External reference, unique per tenant; one plain name.');
const Quantity = z.number().int().min(-1_000_000_000).max(1_000_000_000);
const Day = z.iso.date().describe('YYYY-MM-DD');

const RecordFields = {
  title: Title,
  body: Body,
  tags: Tags,
  ref: Ref,
  quantity: Quantity,
  start_date: Day,
  due_date: Day,
};

export const RecordsCreateInput = z.strictObject({
  title: Title,
  body: Body.default(''),
  tags: Tags.default([]),
  ref: Ref.optional(),
  quantity: Quantity.optional(),
  start_date: Day.optional(),
  due_date: Day.optional(),
});
export const RecordsUpdateInput = z.strictObject({
  id: RecordId,
  ...Object.fromEntries(Object.entries(RecordFields).map(([k, v]) => [k, v.optional()])),
} as { id: typeof RecordId } & { [K in keyof typeof RecordFields]: z.ZodOptional<(typeof RecordFields)[K]> });
export const RecordIdInput = z.strictObject({ id: RecordId });
export const RecordsListInputV1 = z.strictObject({
  limit: z.number().int().min(1).max(100).default(20),
  after: RecordId.optional(),
});
const Order = z.enum(['oldest_first', 'newest_first']);
export type RecordsOrder = z.infer<typeof Order>;
export const RecordsListInputV1_1 = RecordsListInputV1.extend({
  due_before: Day.optional().describe('Only records due before this day.'),
  order: Order.default('oldest_first'),
}).strict();
/**
 * Where a listing goes on: its order and the position of the page's last record in the store (its
 * row number, which no delete moves and no insert takes: a cursor holds whatever happens to that
 * record). The largest position is below 2^53, so it is a safe integer.
 */
export const RECORDS_CURSOR = /^(oldest_first|newest_first):([1-9][0-9]{0,14})$/;
export const RecordsListInput = RecordsListInputV1_1.extend({
  cursor: z
    .string()
    .max(32)
    .regex(RECORDS_CURSOR)
    .optional()
    .describe("The previous page's next_cursor: this page starts after it."),
}).strict();
export const RecordsBulkCreateInput = z.strictObject({
  items: z.array(RecordsCreateInput).min(1).max(50),
});

export const RecordSchema = z.strictObject({
  id: RecordId,
  title: Title,
  body: Body,
  tags: Tags,
  ref: Ref.nullable(),
  quantity: Quantity.nullable(),
  start_date: Day.nullable(),
  due_date: Day.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type RecordRow = z.infer<typeof RecordSchema>;

const ItemError = z.object({ error_class: z.string(), code: z.string(), message: z.string() });
export const BulkCreateOutput = z.object({
  status: z.enum(['ok', 'partial', 'failed']),
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  results: z.array(
    z.object({
      index: z.number().int(),
      status: z.enum(['created', 'failed']),
      record: RecordSchema.optional(),
      error: ItemError.optional(),
    }),
  ),
});

/** A cursor goes on in its own listing's order, and it is where to start: no `after` beside it. */
function cursorFits(args: Record<string, unknown>): SemanticIssue[] {
  const cursor = typeof args.cursor === 'string' ? RECORDS_CURSOR.exec(args.cursor) : null;
  if (!cursor) return [];
  if (args.after !== undefined)
    return [{ path: 'after', code: 'invalid_arguments', message: 'pass either after or cursor, not both' }];
  if (cursor[1] === args.order) return [];
  return [
    {
      path: 'order',
      code: 'invalid_arguments',
      message: `this cursor goes on with a ${cursor[1]} listing: pass order ${cursor[1]} with it`,
    },
  ];
}

const recordRules: SemanticValidator[] = [
  dateInRange('start_date'),
  dateInRange('due_date'),
  datesOrdered('start_date', 'due_date'),
  notNegative('quantity'),
  safeSegment('ref'),
];

const SMALL = 32 * 1024;

function tenantTool(
  def: Omit<ToolDefinition, 'kind' | 'writes' | 'semantic' | 'maxPayloadBytes' | 'version'> & {
    version?: string;
    semantic?: SemanticValidator[];
    maxPayloadBytes?: number;
    effect: ToolEffect;
  },
): ToolDefinition {
  return {
    version: '1.0.0',
    semantic: [],
    maxPayloadBytes: SMALL,
    ...def,
    kind: 'tenant',
    writes: def.effect !== 'read',
  };
}

/** The current version of every records tool: what the runtime image implements. */
export const RECORDS_TOOLS: readonly ToolDefinition[] = [
  tenantTool({
    name: 'records_create',
    title: 'Create a record',
    description:
      "Create a record in the calling tenant's store. Optional: ref (unique external reference), quantity (not negative), start_date and due_date (YYYY-MM-DD, start not after due). Returns the new record.",
    inputSchema: RecordsCreateInput,
    outputSchema: z.object({ record: RecordSchema }),
    scope: 'records:write',
    effect: 'create',
    semantic: recordRules,
    blastRadius:
      "Adds one record to the calling tenant's store; nothing else changes. Undo: records_delete with the returned id.",
  }),
  tenantTool({
    name: 'records_bulk_create',
    title: 'Create records in bulk',
    description:
      'Create up to 50 records in one call. Each item succeeds or fails on its own (for example a ref already taken): the result says status ok, partial or failed, the counts, and which items failed and why.',
    inputSchema: RecordsBulkCreateInput,
    outputSchema: BulkCreateOutput,
    scope: 'records:write',
    effect: 'create',
    semantic: [eachItem('items', recordRules)],
    maxPayloadBytes: 512 * 1024,
    blastRadius:
      "Adds up to 50 records to the calling tenant's store; items that fail change nothing. Undo: records_delete for each created id listed in the result.",
  }),
  tenantTool({
    name: 'records_update',
    title: 'Update a record',
    description:
      'Change fields of an existing record of the calling tenant. Dates are checked against the stored values too.',
    inputSchema: RecordsUpdateInput,
    outputSchema: z.object({ record: RecordSchema }),
    scope: 'records:write',
    effect: 'update',
    semantic: recordRules,
    blastRadius:
      'Overwrites the given fields of one record of the calling tenant; the previous values are not kept. Undo: records_update with the values from a prior records_get.',
  }),
  tenantTool({
    name: 'records_delete',
    title: 'Delete a record',
    description: 'Delete a record of the calling tenant by id.',
    inputSchema: RecordIdInput,
    outputSchema: z.object({ deleted: RecordId }),
    scope: 'records:write',
    effect: 'delete',
    blastRadius:
      'Removes one record of the calling tenant permanently. Undo: none in Bulkhead; recreate it with records_create from a prior records_get, or restore the tenant volume from backup.',
  }),
  tenantTool({
    name: 'records_get',
    title: 'Get a record',
    description: 'Read one record of the calling tenant by id.',
    inputSchema: RecordIdInput,
    outputSchema: z.object({ record: RecordSchema }),
    scope: 'records:read',
    effect: 'read',
  }),
  tenantTool({
    name: 'records_list',
    version: '1.2.0',
    title: 'List records',
    description:
      "List records of the calling tenant, oldest or newest first, a page at a time; optionally only those due before a day. The result's next_cursor is where the next page starts: pass it as cursor, with the same order and due_before; it is null when no record remains. A page may hold fewer records than limit (it ends at about 1 MiB of them) and still not be the last: only a null next_cursor ends the list.",
    inputSchema: RecordsListInput,
    outputSchema: z.object({ records: z.array(RecordSchema), next_cursor: z.string().nullable() }),
    scope: 'records:read',
    effect: 'read',
    semantic: [dateInRange('due_before'), cursorFits],
  }),
];

/**
 * What a tenant pinned to an older version of `name` is told: the version to move to is always the
 * current one (RECORDS_TOOLS), never the next in line, which may be deprecated itself by now.
 */
function replacedByCurrent(
  name: string,
  version: string,
  since: string,
): NonNullable<ToolDefinition['deprecated']> {
  const current = RECORDS_TOOLS.find((def) => def.name === name)?.version;
  if (current === undefined)
    throw new Error(`${name} ${version} is deprecated, but ${name} has no current version`);
  return { message: `${name} ${version} is replaced by ${current} (${since}).`, replacedBy: current };
}

/**
 * Older versions a tenant may still pin. Their inputs are a subset of the current version's, which
 * the runtime implements; the router answers them with what their own output schema names
 * (router/pipeline/pinned-version.ts).
 */
export const RECORDS_TOOL_HISTORY: readonly ToolDefinition[] = [
  tenantTool({
    name: 'records_list',
    version: '1.1.0',
    title: 'List records',
    description:
      'List records of the calling tenant, oldest or newest first, paginated by id (after: the last id of the previous page; a page of large records ends before limit, at about 1 MiB of them, so only an empty page ends the list); optionally only those due before a day.',
    inputSchema: RecordsListInputV1_1,
    outputSchema: z.object({ records: z.array(RecordSchema) }),
    scope: 'records:read',
    effect: 'read',
    semantic: [dateInRange('due_before')],
    deprecated: replacedByCurrent(
      'records_list',
      '1.1.0',
      'since 1.2.0, next_cursor says where the next page starts',
    ),
  }),
  tenantTool({
    name: 'records_list',
    version: '1.0.0',
    title: 'List records',
    description:
      'List records of the calling tenant, oldest first, paginated by id (a page of large records ends before limit, at about 1 MiB of them, so only an empty page ends the list).',
    inputSchema: RecordsListInputV1,
    outputSchema: z.object({ records: z.array(RecordSchema) }),
    scope: 'records:read',
    effect: 'read',
    deprecated: replacedByCurrent(
      'records_list',
      '1.0.0',
      'since 1.1.0, due_before and order; since 1.2.0, next_cursor says where the next page starts',
    ),
  }),
];
