// What a shared tool module is: an approved read-only definition and its in-process handler.
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { TenantRecord } from '../../../kernel/tenant/tenant-spec.ts';
import type { ToolDefinition } from '../../../kernel/tools/tool-definition.ts';
import type { Principal } from '../../identity/principal.ts';

export interface SharedToolContext {
  tenant: TenantRecord | undefined;
  /** The tools this principal may call right now. */
  tools: readonly ToolDefinition[];
  idempotencyWindowMs: number;
  /** Each rate-limit layer's live state for this caller, charging nothing (quota_status). */
  rateLimits(): Promise<readonly RateLimitLayer[]>;
}

/** One rate-limit layer as quota_status reports it (router/pipeline/rate-limiter.ts decides them). */
export interface RateLimitLayer {
  layer: string;
  /** Calls per period. */
  limit: number;
  period_ms: number;
  /** Calls still admitted now (after this call, when it was charged). */
  remaining: number;
  /** When the layer is full again (ISO time) and how far that is. */
  reset_at: string;
  reset_ms: number;
  /** Only on a refusing layer: when a call would be admitted. */
  retry_after_ms?: number;
  /** The tool a `tool` layer limits. */
  tool?: string | undefined;
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
