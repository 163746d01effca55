// The router's Prometheus metrics (docs/observability.md), one prom-client registry per router.
// Cardinality is bounded by construction: a tool label is a name from the served surface (the
// approved manifest and the shared tools) or `unknown`, never what a request typed; a method label
// is one of the MCP methods the router relays (router/dispatch/call-relay.ts), never the prompt or
// resource a request named; outcomes are error codes from the closed table in
// kernel/errors/error-codes.ts, of a tenant runtime's answer only those a runtime may answer with
// (errorCodeIn); a tenant label exists only when the operator enables it
// (BULKHEAD_ROUTER_METRICS_TENANT_LABEL).
import type { CallToolResult } from '@modelcontextprotocol/server';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorRow, isErrorCode } from '../../kernel/errors/error-codes.ts';
import { isBuiltHere } from '../../kernel/tools/tool-errors.ts';

/** The tool label of a call whose name is not one the caller may use. */
export const UNKNOWN_TOOL = 'unknown';

/** Why a bearer token was refused: a fixed set, never the verifier's message. */
export const AUTH_FAILURE_REASONS = [
  'missing',
  'malformed',
  'untrusted_issuer',
  'rejected',
  'expired',
  'claims',
  'tenant_binding',
  // Not verified at all: the source address sent too many refused tokens (auth-flood-guard.ts).
  'flood',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Call latencies: shared tools answer in milliseconds, a cold start takes seconds. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RouterMetricsOptions {
  /** Adds a tenant label to the per-call series (one series per tenant and tool). */
  tenantLabel?: boolean;
  /** The /mcp requests in flight now, that a shutdown waits for (router/http/request-drain.ts). */
  inFlight?: () => number;
}

/** Who a relayed request was for and its MCP method, as labels. */
export interface RelayLabels {
  tenant: string;
  /** One of the methods the router relays besides tools/call (router/dispatch/call-relay.ts). */
  method: string;
}

/** Who the call was for and which tool it named, as labels. */
export interface CallLabels {
  tenant: string;
  /** A name from the served surface, or UNKNOWN_TOOL. */
  tool: string;
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly tenantLabel: boolean;
  private readonly calls: Counter;
  private readonly latency: Histogram;
  private readonly validation: Counter;
  private readonly auth: Counter;
  private readonly replays: Counter;
  private readonly refusals: Counter;
  private readonly drift: Counter;
  private readonly unreadable: Counter;
  private readonly unkept: Counter;
  private readonly ensure: Histogram;
  private readonly unconfirmed: Counter;
  private readonly relayed: Counter;
  private readonly relayLatency: Histogram;

  constructor(options: RouterMetricsOptions = {}) {
    const registers = [this.registry];
    this.tenantLabel = options.tenantLabel ?? false;
    const perCall = this.tenantLabel ? ['tenant', 'tool'] : ['tool'];
    this.calls = new Counter({
      name: 'bulkhead_tool_calls_total',
      help: 'tools/call requests answered, by tool, outcome (ok or the error code) and error class.',
      labelNames: [...perCall, 'outcome', 'error_class'],
      registers,
    });
    this.latency = new Histogram({
      name: 'bulkhead_tool_call_duration_seconds',
      help: 'Time the router took to answer a tools/call, by tool.',
      labelNames: perCall,
      buckets: CALL_BUCKETS,
      registers,
    });
    this.validation = new Counter({
      name: 'bulkhead_tool_validation_failures_total',
      help: 'Tool calls refused by schema or semantic validation before dispatch, by tool.',
      labelNames: perCall,
      registers,
    });
    this.auth = new Counter({
      name: 'bulkhead_auth_failures_total',
      help: 'Requests to /mcp refused for their bearer token, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.replays = new Counter({
      name: 'bulkhead_idempotency_replays_total',
      help: 'Writing tool calls answered from the idempotency store (a retry), by tool.',
      labelNames: perCall,
      registers,
    });
    this.refusals = new Counter({
      name: 'bulkhead_rate_limit_refusals_total',
      help: 'Tool calls refused by a rate limit, by the layer that refused (concurrency: calls in flight).',
      labelNames: this.tenantLabel ? ['tenant', 'layer'] : ['layer'],
      registers,
    });
    this.drift = new Counter({
      name: 'bulkhead_tool_drift_events_total',
      help: 'Tenant tool definitions withheld for drift or restored, by tool and event.',
      labelNames: ['tool', 'event'],
      registers,
    });
    this.unreadable = new Counter({
      name: 'bulkhead_idempotency_records_unreadable_total',
      help: 'Idempotency records in Redis that did not open (changed, moved, written in clear, or sealed under another secret), by tool: given back, never replayed.',
      labelNames: this.tenantLabel ? ['tenant', 'tool'] : ['tool'],
      registers,
    });
    this.unkept = new Counter({
      name: 'bulkhead_idempotency_results_unkept_total',
      help: "Writes answered whose results were not kept for replays, their tenant being at its byte budget in Redis (BULKHEAD_IDEMPOTENCY_RESULT_BYTES), by tool: a replay is answered by the tenant runtime's key table.",
      labelNames: perCall,
      registers,
    });
    this.ensure = new Histogram({
      name: 'bulkhead_runtime_ensure_seconds',
      help: "Time for the router to get a route to a tenant's runtime (including a cold start or wake).",
      labelNames: ['outcome'],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.unconfirmed = new Counter({
      name: 'bulkhead_audit_unconfirmed_total',
      help:
        'Audit records Redis did not confirm within the state deadline, or refused: each is logged whole ' +
        'at error level instead (one that was late still lands in the trail).',
      registers,
    });
    const perRelay = this.tenantLabel ? ['tenant', 'method'] : ['method'];
    this.relayed = new Counter({
      name: 'bulkhead_relayed_requests_total',
      help:
        "Requests relayed to a tenant's runtime besides tools/call (resources, prompts, completion), " +
        'by MCP method, outcome (ok or the error code) and error class.',
      labelNames: [...perRelay, 'outcome', 'error_class'],
      registers,
    });
    this.relayLatency = new Histogram({
      name: 'bulkhead_relayed_request_duration_seconds',
      help: "Time the router took to answer a request relayed to a tenant's runtime, by MCP method.",
      labelNames: perRelay,
      buckets: CALL_BUCKETS,
      registers,
    });
    const inFlight = options.inFlight ?? (() => 0);
    new Gauge({
      name: 'bulkhead_mcp_requests_in_flight',
      help: '/mcp requests being answered now, subscriptions/listen streams not counted: what a shutdown waits for.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    for (const reason of AUTH_FAILURE_REASONS) this.auth.inc({ reason }, 0);
  }

  private labels(call: CallLabels): Record<string, string> {
    return this.withTenant(call.tenant, { tool: call.tool });
  }

  /** `labels`, with the tenant's only where the operator enabled it. */
  private withTenant(tenant: string, labels: Record<string, string>): Record<string, string> {
    return this.tenantLabel ? { tenant, ...labels } : labels;
  }

  /** One answered tools/call: its error code (undefined: it succeeded) and how long it took. */
  callAnswered(call: CallLabels, code: string | undefined, seconds: number): void {
    answered(this.calls, this.latency, this.labels(call), code, seconds);
  }

  /**
   * One answered relayed request (router/mcp/relay-admission.ts), refused before the runtime or not:
   * its error code (undefined: it succeeded) and how long it took.
   */
  relayAnswered(relay: RelayLabels, code: string | undefined, seconds: number): void {
    const labels = this.withTenant(relay.tenant, { method: relay.method });
    answered(this.relayed, this.relayLatency, labels, code, seconds);
  }

  /** An audit record logged in full because Redis did not confirm it (router/mcp/call-audit.ts). */
  auditUnconfirmed(): void {
    this.unconfirmed.inc();
  }

  validationFailed(call: CallLabels): void {
    this.validation.inc(this.labels(call));
  }

  authFailed(reason: AuthFailureReason): void {
    this.auth.inc({ reason });
  }

  /** `layer` is one of the limiter's layers or `concurrency` (router/pipeline/), never caller input. */
  rateLimited(call: CallLabels, layer: string): void {
    this.refusals.inc(this.tenantLabel ? { tenant: call.tenant, layer } : { layer });
  }

  idempotencyReplayed(call: CallLabels): void {
    this.replays.inc(this.labels(call));
  }

  /** `tool` is an approved manifest name (the drift guard compares only those). */
  driftEvent(tool: string, event: 'withheld' | 'restored'): void {
    this.drift.inc({ tool, event });
  }

  /** `tool` is the served tool the write named (validated before its key was claimed). */
  idempotencyRecordUnreadable(scope: { tenant: string; tool: string }): void {
    this.unreadable.inc(this.tenantLabel ? { tenant: scope.tenant, tool: scope.tool } : { tool: scope.tool });
  }

  /** `tool` is the served tool the write named. */
  idempotencyResultUnkept(scope: { tenant: string; tool: string }): void {
    this.unkept.inc(this.labels(scope));
  }

  ensured(outcome: 'ok' | 'error', seconds: number): void {
    this.ensure.observe({ outcome }, seconds);
  }
}

/** Counts an answer by its outcome and error class, and observes its latency. */
function answered(
  count: Counter,
  latency: Histogram,
  labels: Record<string, string>,
  code: string | undefined,
  seconds: number,
): void {
  const errorClass = code === undefined ? 'none' : errorClassOf(code);
  count.inc({ ...labels, outcome: code ?? 'ok', error_class: errorClass });
  latency.observe(labels, seconds);
}

/** The error code of a tool error result (kernel/tools/tool-errors.ts), undefined when it succeeded. */
export function resultCode(result: CallToolResult): string | undefined {
  if (!result.isError) return undefined;
  return errorCodeIn((result.structuredContent as { error?: unknown } | undefined)?.error);
}

/** The class of an error code in the table (kernel/errors/error-codes.ts); `internal` otherwise. */
export function errorClassOf(code: string): string {
  return isErrorCode(code) ? errorRow(code).class : 'internal';
}

/**
 * The code the router records and counts for a structured error (a tool error's, or a JSON-RPC
 * refusal's data): `internal` without one. The code is the one it names only where this router
 * built it, or where a tenant runtime may answer with it (`runtime` in its row): a runtime's answer
 * is the tenant's code, which could otherwise claim the router's refusals (a `rate_limit_exceeded`,
 * an `invalid_token`) in the trail and the metrics. Any other code it names is `runtime_code_refused`.
 */
export function errorCodeIn(structured: unknown): string {
  const code = (structured as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return 'internal';
  if (isBuiltHere(structured)) return isErrorCode(code) ? code : 'internal';
  return isErrorCode(code) && errorRow(code).runtime === true ? code : 'runtime_code_refused';
}
