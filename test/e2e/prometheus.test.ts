// A real Prometheus server (test/support/prometheus-server.ts) scrapes the router's and the
// supervisor's /metrics of a test stack, and an egress gateway's (test/support/egress.ts), while real
// MCP calls and upstream requests are made; PromQL through its HTTP API
// then returns what those calls were: per-tool p95 latency (the histogram's counts per tool, and
// the quantile as computed from the buckets the router exposes, bounded by the slowest call the
// client saw), the error rate by class, schema-validation failures, rate-limit refusals by layer,
// relayed requests (resources, prompts) by method, the supervisor's running runtime, and the
// gateway's upstream requests by decision and reason. The shipped alerting rules (deploy/prometheus/alerts.yml)
// load and evaluate without error (what they fire on: test/integration/alert-rules.test.ts), and
// every query of the shipped Grafana dashboard (deploy/grafana/bulkhead.json) evaluates, with data
// unless it reads series only events this test does not cause would make.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { proxyGet, startLocalEgress, type LocalEgress } from '../support/egress.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startPrometheus, type PrometheusServer, type PromSample } from '../support/prometheus-server.ts';
import { scrape, type Sample } from '../support/prometheus-text.ts';
import { startTestStack, TEST_QUOTAS, type TestStack } from '../support/stack.ts';

const TENANT = 'promscraped';
const RULES = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/bulkhead.json', import.meta.url));
/**
 * Series made only by events this test does not cause: a replay, drift, a wake, a tampered socket,
 * an idempotency record that did not open.
 */
const EVENT_ONLY = new Set([
  'bulkhead_idempotency_replays_total',
  'bulkhead_tool_drift_events_total',
  'bulkhead_runtime_wake_seconds_bucket',
  'bulkhead_runtime_socket_tampering_total',
  'bulkhead_idempotency_records_unreadable_total',
]);
let stack: TestStack;
let prometheus: PrometheusServer;
let client: Client;
let egress: LocalEgress;
/** A loopback upstream the gateway's tenant may reach. */
let upstream: Server;

function hostOf(url: string | undefined): string {
  if (!url) throw new Error('no metrics listener');
  return new URL(url).host;
}

beforeAll(async () => {
  stack = await startTestStack('prometheus', { router: { metricsPort: 0 }, supervisor: { metricsPort: 0 } });
  // whoami: two calls per minute for this tenant, so that the third is refused by the tool layer.
  await stack.onboard(TENANT, { quotas: { ...TEST_QUOTAS, tools: { whoami: 2 } } });
  client = await agentClient(stack, TENANT);
  upstream = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  const allowed: EgressPolicy = { mode: 'allowlist', hosts: [`127.0.0.1:${port}`], packs: {}, upstreams: {} };
  egress = await startLocalEgress({ label: 'prometheus-egress', egress: allowed, metrics: true });
  prometheus = await startPrometheus({
    jobs: {
      'bulkhead-router': [hostOf(stack.router.metricsUrl)],
      'bulkhead-supervisor': [hostOf(stack.supervisor.metricsUrl)],
      'bulkhead-egress': [hostOf(egress.gateway.metricsUrl)],
    },
    ruleFiles: [RULES],
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await client?.close();
  await egress?.close();
  await new Promise((resolve) => upstream?.close(resolve));
  await stack?.close();
});

const byLabel = (samples: PromSample[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', s.value]));

/** histogram_quantile as Prometheus computes it, from one tool's cumulative buckets. */
function quantile(q: number, buckets: Sample[]): number {
  const sorted = buckets
    .map((b) => ({ le: Number(b.labels.le === '+Inf' ? Infinity : b.labels.le), count: b.value }))
    .sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  const rank = q * total;
  const index = sorted.findIndex((b) => b.count >= rank);
  const bucket = sorted[index]!;
  if (bucket.le === Infinity) return sorted[index - 1]?.le ?? 0;
  const start = index === 0 ? 0 : sorted[index - 1]!.le;
  const below = index === 0 ? 0 : sorted[index - 1]!.count;
  return start + (bucket.le - start) * ((rank - below) / (bucket.count - below));
}

describe('a real Prometheus server', () => {
  it('scrapes router and supervisor; PromQL returns the calls this test made', async () => {
    await prometheus.waitFor('sum(up{job=~"bulkhead-.*"})', (v) => v === 3);
    const slowest: Record<string, number> = {};
    const timed = async (name: string, args: Record<string, unknown>): Promise<boolean> => {
      const started = performance.now();
      const result = await client.callTool({ name, arguments: args });
      slowest[name] = Math.max(slowest[name] ?? 0, (performance.now() - started) / 1000);
      return result.isError !== true;
    };
    const outcomes: boolean[] = [];
    for (let i = 0; i < 3; i++)
      outcomes.push(await timed('records_create', { title: `prom-${i}`, idempotency_key: randomUUID() }));
    for (let i = 0; i < 2; i++) outcomes.push(await timed('records_create', { title: 42 }));
    for (let i = 0; i < 4; i++) outcomes.push(await timed('records_list', {}));
    for (let i = 0; i < 5; i++) outcomes.push(await timed('whoami', {}));
    // 3 + 4 + 2 admitted; 2 invalid; 3 refused by whoami's limit.
    expect(outcomes.filter(Boolean)).toHaveLength(9);
    // Relayed requests: the tenant's only pack (records) serves no resource or prompt: both refused.
    await expect(client.readResource({ uri: 'notes://readme' })).rejects.toThrow(/notes:\/\/readme/);
    await expect(client.getPrompt({ name: 'notes_summarize' })).rejects.toThrow(/Unknown prompt/);

    // Until Prometheus has scraped the router after the last call.
    await prometheus.waitFor('sum(bulkhead_tool_calls_total{job="bulkhead-router"})', (v) => v === 14);

    const classes = await prometheus.query('sum by (error_class) (bulkhead_tool_calls_total)');
    expect(byLabel(classes, 'error_class')).toEqual({ none: 9, validation: 2, rate_limit: 3 });
    const [rate] = await prometheus.query(
      'sum(bulkhead_tool_calls_total{error_class!="none"}) / sum(bulkhead_tool_calls_total)',
    );
    expect(rate?.value).toBeCloseTo(5 / 14, 10);
    const validation = await prometheus.query('sum by (tool) (bulkhead_tool_validation_failures_total)');
    expect(byLabel(validation, 'tool')).toEqual({ records_create: 2 });
    const refusals = await prometheus.query('sum by (layer) (bulkhead_rate_limit_refusals_total)');
    expect(byLabel(refusals, 'layer')).toEqual({ tool: 3 });

    await prometheus.waitFor('sum(bulkhead_relayed_requests_total{job="bulkhead-router"})', (v) => v === 2);
    const relayed = await prometheus.query(
      'sum by (method) (bulkhead_relayed_requests_total{error_class="validation"})',
    );
    expect(byLabel(relayed, 'method')).toEqual({ 'resources/read': 1, 'prompts/get': 1 });
    const relayTimes = await prometheus.query(
      'sum by (method) (bulkhead_relayed_request_duration_seconds_count)',
    );
    expect(byLabel(relayTimes, 'method')).toEqual({ 'resources/read': 1, 'prompts/get': 1 });

    const counts = await prometheus.query('sum by (tool) (bulkhead_tool_call_duration_seconds_count)');
    expect(byLabel(counts, 'tool')).toEqual({ records_create: 5, records_list: 4, whoami: 5 });
    const p95 = byLabel(
      await prometheus.query(
        'histogram_quantile(0.95, sum by (tool, le) (bulkhead_tool_call_duration_seconds_bucket))',
      ),
      'tool',
    );
    const exposed = await scrape(stack.router.metricsUrl!);
    for (const tool of ['records_create', 'records_list', 'whoami']) {
      const buckets = exposed.filter(
        (s) => s.name === 'bulkhead_tool_call_duration_seconds_bucket' && s.labels.tool === tool,
      );
      expect(p95[tool], tool).toBeCloseTo(quantile(0.95, buckets), 9);
      // Every call of the tool took at most what the client saw of its slowest: so did the 95th.
      const bound = Math.min(...buckets.map((b) => Number(b.labels.le)).filter((le) => le >= slowest[tool]!));
      expect(p95[tool], tool).toBeLessThanOrEqual(bound);
      expect(p95[tool], tool).toBeGreaterThan(0);
    }

    // Waited for, not read once: under load a supervisor scrape (the engine's statistics of every
    // container) can outlast the 1 s interval, and its series are stale until the next one.
    const running = 'sum(bulkhead_runtimes{job="bulkhead-supervisor",state="running"})';
    expect(await prometheus.waitFor(running, (v) => v === 1)).toBe(1);
    const memory = `bulkhead_runtime_memory_bytes{tenant="${TENANT}"}`;
    expect(await prometheus.waitFor(memory, (v) => (v ?? 0) > 0)).toBeGreaterThan(0);
  }, 120_000);

  it('scrapes the egress gateway; PromQL returns its upstream requests by decision and reason', async () => {
    const { port } = upstream.address() as AddressInfo;
    for (let i = 0; i < 2; i++)
      expect((await proxyGet(egress.port, `http://127.0.0.1:${port}/ok`)).status).toBe(200);
    // Not in the tenant's allowlist: refused, nothing sent.
    expect((await proxyGet(egress.port, 'http://127.0.0.2:9/no')).status).toBe(403);
    await prometheus.waitFor('sum(bulkhead_egress_requests_total{job="bulkhead-egress"})', (v) => v === 3);
    const ended = await prometheus.query(
      'sum by (reason) (bulkhead_egress_requests_total{job="bulkhead-egress"})',
    );
    expect(byLabel(ended, 'reason')).toEqual({ forwarded: 2, host_not_allowed: 1 });
    const denied = await prometheus.query(
      'sum by (status_class) (bulkhead_egress_requests_total{decision="deny"})',
    );
    expect(byLabel(denied, 'status_class')).toEqual({ '4xx': 1 });
    expect(await prometheus.waitFor('bulkhead_egress_audit_waiting', (v) => v === 0)).toBe(0);
    expect((await prometheus.query('bulkhead_egress_audit_backlog_limit'))[0]?.value).toBe(10_000);
  }, 60_000);

  it('loads and evaluates the shipped alerting rules without error', async () => {
    const rules = await prometheus.settledRules(
      (all) => all.length > 0 && all.every((r) => r.health === 'ok'),
    );
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
  }, 60_000);

  it('evaluates every query of the shipped Grafana dashboard over the last minutes, as a panel does', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    // Every metric name Prometheus has stored (a histogram's as _bucket, _count and _sum).
    const stored = new Set((await prometheus.api('/api/v1/label/__name__/values')) as string[]);
    expect(stored.has('bulkhead_tool_calls_total')).toBe(true);
    /**
     * How many series `promql` gives over the last two minutes, a point a second: a range query, as a
     * panel makes (a scrape that timed out on a loaded machine leaves gaps, not an empty panel).
     */
    const seriesOver = async (promql: string): Promise<number> => {
      const end = Date.now() / 1000;
      const path = `/api/v1/query_range?query=${encodeURIComponent(promql)}&start=${end - 120}&end=${end}&step=1`;
      const data = (await prometheus.api(path)) as { result: { values: unknown[] }[] };
      return data.result.filter((series) => series.values.length > 0).length;
    };
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        // Grafana's rate window: at least four scrapes (every second here).
        const promql = expr.replaceAll('$__rate_interval', '1m');
        expect(promql, `${panel.title}: a variable this test does not fill`).not.toContain('$');
        const missing = [...promql.matchAll(/\bbulkhead_[a-z0-9_]+/g)]
          .map(([name]) => name)
          .filter((name) => !stored.has(name));
        expect(
          missing.filter((name) => !EVENT_ONLY.has(name)),
          panel.title,
        ).toEqual([]);
        // It evaluates (a malformed query throws), with data once its series have two samples.
        if (missing.length > 0) await seriesOver(promql);
        else
          await expect
            .poll(() => seriesOver(promql), { timeout: 30_000, interval: 1_000 })
            .toBeGreaterThan(0);
      }
    }
  }, 120_000);
});
