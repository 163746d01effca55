// The approved tool manifest: the single source of truth for the tools Bulkhead serves. The router
// lists tools from here (never from what a container claims) and the runtime image implements the
// tenant tools against the same schemas, so the two cannot drift apart silently.
import { z } from 'zod';

export type ToolKind = 'shared' | 'tenant';

export interface ToolDefinition<Input extends z.ZodType = z.ZodType> {
  name: string;
  version: string;
  /** `shared`: in-process in the router, tenant-agnostic. `tenant`: runs in the tenant's container. */
  kind: ToolKind;
  title: string;
  description: string;
  inputSchema: Input;
  /** OAuth scope the agent's token must carry; null when any valid token may call it. */
  scope: string | null;
  writes: boolean;
}

const RecordId = z.uuid();
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

export const RecordsCreateInput = z.strictObject({
  title: Title,
  body: Body.default(''),
  tags: Tags.default([]),
});
export const RecordsUpdateInput = z.strictObject({
  id: RecordId,
  title: Title.optional(),
  body: Body.optional(),
  tags: Tags.optional(),
});
export const RecordIdInput = z.strictObject({ id: RecordId });
export const RecordsListInput = z.strictObject({
  limit: z.number().int().min(1).max(100).default(20),
  after: RecordId.optional(),
});
export const EmptyInput = z.strictObject({});

export const RecordSchema = z.strictObject({
  id: RecordId,
  title: Title,
  body: Body,
  tags: Tags,
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type RecordRow = z.infer<typeof RecordSchema>;

function tenantTool<Input extends z.ZodType>(
  def: Omit<ToolDefinition<Input>, 'kind' | 'version'>,
): ToolDefinition<Input> {
  return { ...def, kind: 'tenant', version: '1.0.0' };
}

export const RECORDS_TOOLS = [
  tenantTool({
    name: 'records_create',
    title: 'Create a record',
    description: "Create a record in the calling tenant's store. Returns the new record.",
    inputSchema: RecordsCreateInput,
    scope: 'records:write',
    writes: true,
  }),
  tenantTool({
    name: 'records_update',
    title: 'Update a record',
    description: 'Change the title, body or tags of an existing record of the calling tenant.',
    inputSchema: RecordsUpdateInput,
    scope: 'records:write',
    writes: true,
  }),
  tenantTool({
    name: 'records_delete',
    title: 'Delete a record',
    description: 'Delete a record of the calling tenant by id.',
    inputSchema: RecordIdInput,
    scope: 'records:write',
    writes: true,
  }),
  tenantTool({
    name: 'records_get',
    title: 'Get a record',
    description: 'Read one record of the calling tenant by id.',
    inputSchema: RecordIdInput,
    scope: 'records:read',
    writes: false,
  }),
  tenantTool({
    name: 'records_list',
    title: 'List records',
    description: 'List records of the calling tenant, oldest first, paginated by id.',
    inputSchema: RecordsListInput,
    scope: 'records:read',
    writes: false,
  }),
] as const;

export const SHARED_TOOLS = [
  {
    name: 'whoami',
    version: '1.0.0',
    kind: 'shared',
    title: 'Who am I',
    description: 'Return the verified identity of this call: tenant, user, agent and granted scopes.',
    inputSchema: EmptyInput,
    scope: null,
    writes: false,
  },
] as const satisfies readonly ToolDefinition[];

export const ALL_SCOPES = ['records:read', 'records:write'] as const;
