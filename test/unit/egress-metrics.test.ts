// The egress gateway's metrics on their own: bounded labels whatever a request carries (no host,
// no upstream name, a reason outside the gateway's own set counted as `other`), the tenant label only
// when enabled, and the audit backlog read at each scrape.
import { describe, expect, it } from 'vitest';
import { EgressMetrics } from '../../egress/egress-metrics.ts';
import type { UpstreamEvent } from '../../egress/upstream-event.ts';
import { parseExposition, total } from '../support/prometheus-text.ts';

function event(over: {
  reason: string;
  decision?: 'permit' | 'deny';
  status?: number;
  host?: string;
}): UpstreamEvent {
  return {
    ctx: {
      tenant: 'acme',
      policy: { mode: 'allowlist', hosts: [], packs: {}, upstreams: {} },
      pack: 'fetcher',
    },
    decision: over.decision ?? 'permit',
    reason: over.reason,
    errorType: undefined,
    started: 0,
    call: {
      host: over.host ?? 'api.example.com',
      port: 443,
      method: 'GET',
      status: over.status ?? 200,
      bytes_sent: 10,
      bytes_received: 250,
      latency_ms: 12,
      duration_ms: 40,
      pack: 'fetcher',
      upstream: 'example',
    },
  };
}

async function samples(metrics: EgressMetrics) {
  return parseExposition(await metrics.registry.metrics());
}

describe('EgressMetrics', () => {
  it('counts each ended request by decision, reason and status class, with no host or upstream label', async () => {
    const metrics = new EgressMetrics();
    metrics.observe(event({ reason: 'forwarded', status: 201 }));
    metrics.observe(event({ reason: 'forwarded', status: 503, host: 'other.example.com' }));
    metrics.observe(event({ reason: 'host_not_allowed', decision: 'deny', status: 403 }));
    const s = await samples(metrics);
    const forwarded = { decision: 'permit', reason: 'forwarded' };
    expect(total(s, 'bulkhead_egress_requests_total', { ...forwarded, status_class: '2xx' })).toBe(1);
    expect(total(s, 'bulkhead_egress_requests_total', { ...forwarded, status_class: '5xx' })).toBe(1);
    expect(total(s, 'bulkhead_egress_requests_total', { decision: 'deny', reason: 'host_not_allowed' })).toBe(
      1,
    );
    expect(total(s, 'bulkhead_egress_request_duration_seconds_count', { decision: 'permit' })).toBe(2);
    expect(total(s, 'bulkhead_egress_bytes_total', { direction: 'received' })).toBe(750);
    const labels = new Set(s.flatMap((sample) => Object.keys(sample.labels)));
    for (const chosen of ['host', 'upstream', 'pack', 'tenant'])
      expect(labels.has(chosen), chosen).toBe(false);
  });

  it('counts a reason outside its own set as other', async () => {
    const metrics = new EgressMetrics();
    for (const reason of ['x'.repeat(200), 'forwarded\n', 'tunnel_opened'])
      metrics.observe(event({ reason, decision: 'deny', status: 0 }));
    const s = await samples(metrics);
    const reasons = new Set(
      s.filter((x) => x.name === 'bulkhead_egress_requests_total').map((x) => x.labels.reason),
    );
    expect([...reasons]).toEqual(['other']);
    expect(total(s, 'bulkhead_egress_requests_total', { status_class: 'none' })).toBe(3);
  });

  it('has a tenant label only when the operator enables it', async () => {
    const metrics = new EgressMetrics({ tenantLabel: true });
    metrics.observe(event({ reason: 'forwarded' }));
    expect(total(await samples(metrics), 'bulkhead_egress_requests_total', { tenant: 'acme' })).toBe(1);
  });

  it('reads the audit backlog at each scrape, beside its bound', async () => {
    const metrics = new EgressMetrics();
    let waiting = 3;
    metrics.watchAuditBacklog({ waiting: () => waiting, limit: 10 });
    expect(total(await samples(metrics), 'bulkhead_egress_audit_waiting')).toBe(3);
    waiting = 0;
    const s = await samples(metrics);
    expect(total(s, 'bulkhead_egress_audit_waiting')).toBe(0);
    expect(total(s, 'bulkhead_egress_audit_backlog_limit')).toBe(10);
  });
});
