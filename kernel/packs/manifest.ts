// The approved tool manifest: the single source of truth for the tools Bulkhead serves. The router
// lists tools from here (never from what a container claims) and the runtime image implements the
// tenant tools against the same definitions, so the two cannot drift apart silently. Definitions
// and their derivations live in tool-definition.ts; the records tools (the reference pack's) in records.ts.
import { z } from 'zod';
import { safeSegment } from '../tools/semantic-rules.ts';
import type { ToolDefinition } from '../tools/tool-definition.ts';
import { RECORDS_TOOLS, RECORDS_TOOL_HISTORY } from './records.ts';

export type { ToolDefinition, ToolKind } from '../tools/tool-definition.ts';
export {
  RecordIdInput,
  RecordSchema,
  RecordsBulkCreateInput,
  RecordsCreateInput,
  RecordsListInput,
  RecordsUpdateInput,
  RECORDS_CURSOR,
  RECORDS_TOOLS,
  type RecordRow,
  type RecordsOrder,
} from './records.ts';

export const EmptyInput = z.strictObject({});

function sharedTool(
  def: Omit<ToolDefinition, 'kind' | 'writes' | 'effect' | 'semantic' | 'maxPayloadBytes'> &
    Partial<Pick<ToolDefinition, 'semantic' | 'maxPayloadBytes'>>,
): ToolDefinition {
  return { semantic: [], maxPayloadBytes: 4 * 1024, ...def, kind: 'shared', effect: 'read', writes: false };
}

export const SHARED_TOOLS: readonly ToolDefinition[] = [
  sharedTool({
    name: 'whoami',
    version: '1.0.0',
    title: 'Who am I',
    description: 'Return the verified identity of this call: tenant, user, agent and granted scopes.',
    inputSchema: EmptyInput,
    outputSchema: z.object({
      tenant: z.string(),
      user: z.string().nullable(),
      agent: z.string(),
      actors: z.array(z.string()),
      scopes: z.array(z.string()),
      roles: z.array(z.string()),
      issuer: z.string(),
      acting_alone: z.boolean(),
    }),
    scope: null,
  }),
  sharedTool({
    name: 'quota_status',
    version: '1.0.0',
    title: 'Quota status',
    description:
      "What the caller may still do: the tenant's plan limits, the tools this token may call, payload bounds per tool, how long write results are kept for replay, and each rate-limit layer's live usage (tenant per minute and per day, this agent, this user, limited tools, the upstreams those tools use).",
    inputSchema: EmptyInput,
    outputSchema: z.object({
      tenant: z.string(),
      plan: z
        .object({ name: z.string(), memoryMb: z.number(), cpus: z.number(), pids: z.number() })
        .nullable(),
      tools: z.array(
        z.object({
          name: z.string(),
          version: z.string(),
          writes: z.boolean(),
          max_payload_bytes: z.number(),
        }),
      ),
      idempotency_window_ms: z.number(),
      rate_limits: z.array(
        z.object({
          layer: z.enum(['tenant_minute', 'tenant_day', 'agent', 'user', 'tool', 'upstream']),
          tool: z.string().optional(),
          upstream: z.string().optional(),
          limit: z.number(),
          period_ms: z.number(),
          used: z.number(),
          remaining: z.number(),
          reset_at: z.string(),
          reset_ms: z.number(),
          retry_after_ms: z.number().optional(),
        }),
      ),
    }),
    scope: null,
  }),
  sharedTool({
    name: 'docs_search',
    version: '1.0.0',
    title: 'Search the documentation',
    description:
      "Search the operator's published documentation (shared, tenant-agnostic) for a phrase; returns matching lines with their document and line number. Optionally limit to one document by name.",
    inputSchema: z.strictObject({
      query: z.string().min(2).max(200),
      doc: z.string().min(1).max(64).optional().describe('Document name, for example "getting-started.md".'),
      limit: z.number().int().min(1).max(50).default(10),
    }),
    outputSchema: z.object({
      matches: z.array(z.object({ doc: z.string(), line: z.number().int(), text: z.string() })),
    }),
    scope: null,
    semantic: [safeSegment('doc')],
  }),
];

/** Every approved definition, all versions: what a tenant may pin. */
export const MANIFEST: readonly ToolDefinition[] = [
  ...SHARED_TOOLS,
  ...RECORDS_TOOLS,
  ...RECORDS_TOOL_HISTORY,
];

export const ALL_SCOPES = ['records:read', 'records:write'] as const;
