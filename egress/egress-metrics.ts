// The egress gateway's Prometheus metrics (docs/observability.md, "Metrics"), one prom-client
// registry per gateway. What an operator alerts on: upstream calls by decision and reason, and the
// audit entries waiting for Redis (the gateway refuses every new call once BULKHEAD_EGRESS_AUDIT_BACKLOG
// of them wait: egress/admission.ts). Cardinality is bounded by construction: a reason is one of
// EGRESS_REASONS (what the gateway's own code names, never a request's bytes) or `other`; a status
// is its class; a tenant label exists only when the operator enables it
// (BULKHEAD_EGRESS_METRICS_TENANT_LABEL). Hosts and upstream names are never labels: a pack picks the
// hosts it asks for.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UpstreamEvent } from './upstream-event.ts';

/** Why a request or tunnel ended as it did: every reason egress/*.ts gives an ended one. */
export const EGRESS_REASONS = [
  // permitted
  'forwarded',
  'tunnel',
  'client_gone',
  // refused before anything went out (egress/admission.ts, egress/proxy.ts)
  'audit_unavailable',
  'egress_off',
  'host_not_allowed',
  'private_address',
  'name_not_resolved',
  'name_resolution_timeout',
  'name_resolution_busy',
  'upstream_budget_spent',
  'credential_echo',
  'credential_unavailable',
  'upstream_connections_busy',
  'gateway_state_unavailable',
  // went out and failed
  'connect_failed',
  'upstream_unreachable',
  'bad_upstream_response',
] as const;
const KNOWN_REASONS: ReadonlySet<string> = new Set(EGRESS_REASONS);

/** Upstream calls take from milliseconds to a tunnel's whole life. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600];

/** `2xx` … `5xx`, or `none` where no status was answered. */
function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none';
}

export interface EgressMetricsOptions {
  /** Adds a tenant label to the per-call series (one series per tenant, decision and reason). */
  tenantLabel?: boolean;
}

export class EgressMetrics {
  readonly registry = new Registry();
  private readonly tenantLabel: boolean;
  private readonly calls: Counter;
  private readonly duration: Histogram;
  private readonly bytes: Counter;
  private readonly limit: Gauge;
  private waiting: () => number = () => 0;

  constructor(options: EgressMetricsOptions = {}) {
    const registers = [this.registry];
    this.tenantLabel = options.tenantLabel ?? false;
    const tenant = this.tenantLabel ? ['tenant'] : [];
    this.calls = new Counter({
      name: 'bulkhead_egress_requests_total',
      help: 'Upstream requests and CONNECT tunnels the egress gateway handled, once each ended, by decision (permit or deny), reason and status class.',
      labelNames: [...tenant, 'decision', 'reason', 'status_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'bulkhead_egress_request_duration_seconds',
      help: 'Time from a request (or tunnel) reaching the egress gateway to its end, by decision.',
      labelNames: [...tenant, 'decision'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.bytes = new Counter({
      name: 'bulkhead_egress_bytes_total',
      help: 'Bytes relayed between packs and upstreams, by direction (sent upstream, received from it).',
      labelNames: [...tenant, 'direction'],
      registers,
    });
    // Read when scraped: prom-client calls collect() with the gauge as `this`.
    const waiting = () => this.waiting();
    new Gauge({
      name: 'bulkhead_egress_audit_waiting',
      help: "Audit entries of upstream calls that Redis has not taken yet, every tenant's (kept and retried in order; from bulkhead_egress_audit_backlog_limit on, every new call is refused).",
      registers,
      collect() {
        this.set(waiting());
      },
    });
    this.limit = new Gauge({
      name: 'bulkhead_egress_audit_backlog_limit',
      help: 'Audit entries that may wait before the gateway refuses new calls (BULKHEAD_EGRESS_AUDIT_BACKLOG).',
      registers,
    });
  }

  /** Where the audit backlog's size is read at each scrape, and the bound it is held to. */
  watchAuditBacklog(options: { waiting: () => number; limit: number }): void {
    this.waiting = options.waiting;
    this.limit.set(options.limit);
  }

  /** One request or tunnel, as it ended (refused, answered, failed, or its client gone). */
  observe(event: UpstreamEvent): void {
    const { ctx, decision, reason, call } = event;
    const tenant = this.tenantLabel ? { tenant: ctx.tenant } : {};
    this.calls.inc({
      ...tenant,
      decision,
      reason: KNOWN_REASONS.has(reason) ? reason : 'other',
      status_class: statusClass(call.status),
    });
    this.duration.observe({ ...tenant, decision }, call.duration_ms / 1000);
    if (call.bytes_sent > 0) this.bytes.inc({ ...tenant, direction: 'sent' }, call.bytes_sent);
    if (call.bytes_received > 0) this.bytes.inc({ ...tenant, direction: 'received' }, call.bytes_received);
  }
}
