// The JSON the console's API answers with (console/tenant-views.ts, console/api-routes.ts).
/** One rate-limit layer in use (tenants/control-plane/quota.ts). */
export interface Usage {
  layer: string;
  limit: number;
  used: number;
  period_ms: number;
  reset_ms: number;
  subject?: string;
  tool?: string;
  upstream?: string;
}

export interface ToolPin {
  name: string;
  version: string;
  agentsAlone: boolean;
}

export interface TenantSummary {
  id: string;
  displayName: string;
  status: 'active' | 'suspended';
  plan: { name: string; memoryMb: number; cpus: number; pids: number };
  isolation: string;
  generation: number;
  runtime: { state: string; generation: number; image: string } | null;
  tools: ToolPin[];
  quotas: {
    callsPerMinute: number;
    callsPerDay: number;
    agentCallsPerMinute?: number;
    userCallsPerMinute?: number;
  };
  usage: Usage[];
}

/** One page of the tenant list (console/tenant-paging.ts); the cursors are opaque. */
export interface TenantPage {
  tenants: TenantSummary[];
  total: number;
  /** The page's first tenant's position in the list, from 1. */
  from: number;
  next: string | null;
  previous: string | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  tenant: string;
  user: string | null;
  agent: string | null;
  tool: string;
  decision: 'permit' | 'deny';
  reason: string;
  /**
   * `operator`: an action asked in the console, which only the control plane records; `refusals`:
   * the rate-limit refusals a caller that stopped asking was not recorded for one by one.
   */
  kind?: 'call' | 'list' | 'security' | 'operator' | 'refusals';
  status?: 'ok' | 'error';
  error_code?: string;
  latency_ms?: number;
  /** The caller's rate-limit refusals left out of the trail since its last recorded one. */
  repeats?: { count: number; tools: string[]; others: number };
  hash: string;
  /** The sealed segment that holds it; absent while it is still in Redis. */
  segment?: number;
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  head: string;
  problem?: string;
  /** What of the trail is sealed in signed segments (absent when the console reads none). */
  sealed?: { segments: number; entries: number; prunedThrough?: number; shippedThrough?: number };
}

/** A tool the routers' drift checks withhold for the tenant (console/tenant-views.ts). */
export interface WithheldTool {
  tool: string;
  reason: 'definition_changed' | 'missing';
  routers: number;
  lastFound: string;
}

export interface TenantDetail extends TenantSummary {
  quotaLayers: Usage[];
  /** tools/list's own budgets (`tenant_list`, `agent_list`), apart from the calls'. */
  listingLayers: Usage[];
  recentErrors: AuditEntry[];
  withheld: WithheldTool[];
  chain: ChainCheck;
}

export interface IsolationReport {
  tenantId: string;
  runtimeId: string | null;
  isolation: string;
  checkedAt: string;
  pass: boolean;
  checks: { id: string; control: string; source: string; pass: boolean; why: string }[];
}

export interface AuditView {
  /** The newest `limit` entries that match the filters, oldest first. */
  entries: AuditEntry[];
  /** Entries in the trail shown, how many of them match, and how many matches are older than these. */
  total: number;
  matched: number;
  older: number;
  limit: number;
  chain: ChainCheck;
}

/** One chart's data: x in seconds since the epoch, one y list per series (null: no value then). */
export interface ChartData {
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

export interface MetricsCharts {
  /** Calls answered per minute, per tool. */
  calls: ChartData;
  /** Calls answered with an error per minute, per tool. */
  errors: ChartData;
  /** Mean time to answer in each interval, per tool, in milliseconds. */
  latencyMs: ChartData;
  /** Working-set memory of each tenant's runtime, in MiB. */
  memoryMiB: ChartData;
  targets: { url: string; ok: boolean; error?: string }[];
}
