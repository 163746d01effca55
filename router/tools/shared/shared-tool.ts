// What a shared tool module is: an approved read-only definition and its in-process handler.
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { TenantRecord } from '../../../kernel/tenant/tenant-spec.ts';
import type { ToolDefinition } from '../../../kernel/tools/tool-definition.ts';
import type { Principal } from '../../identity/principal.ts';
import type { RateLimitLayer } from '../../../kernel/ratelimit/rate-limiter.ts';

export interface SharedToolContext {
  tenant: TenantRecord | undefined;
  /** The tools this principal may call right now. */
  tools(): readonly ToolDefinition[];
  idempotencyWindowMs: number;
  /** Each rate-limit layer's live state for this caller, charging nothing (quota_status). */
  rateLimits(): Promise<readonly RateLimitLayer[]>;
}

export type SharedToolHandler = (
  principal: Principal,
  args: Record<string, unknown>,
  context: SharedToolContext,
) => Promise<CallToolResult>;

export interface SharedToolModule {
  definition: ToolDefinition;
  handler: SharedToolHandler;
}
