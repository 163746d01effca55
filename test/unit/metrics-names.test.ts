// The shipped alerting rules and Grafana dashboard query only metrics the code registers (read from
// the router's, the supervisor's and the egress gateway's prom-client registries, not from a list
// kept here), and docs/observability.md describes every registered metric.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Counter, Histogram } from 'prom-client';
import { parse } from 'yaml';
import { EgressMetrics } from '../../egress/egress-metrics.ts';
import { RouterMetrics } from '../../router/metrics/router-metrics.ts';
import { SupervisorMetrics } from '../../supervisor/metrics/runtime-metrics.ts';

const registered = new Map(
  [new RouterMetrics().registry, new SupervisorMetrics().registry, new EgressMetrics().registry].flatMap(
    (registry) =>
      registry
        .getMetricsAsArray()
        .map(
          (metric) =>
            [
              metric.name,
              metric instanceof Histogram ? 'histogram' : metric instanceof Counter ? 'counter' : 'gauge',
            ] as const,
        ),
  ),
);

/** The names a query reads, a histogram's _bucket/_count/_sum series mapped to the histogram. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bbulkhead_[a-z0-9_]+/g)].map(([name]) => {
    const base = name.replace(/_(bucket|count|sum)$/, '');
    return base !== name && registered.get(base) === 'histogram' ? base : name;
  });
}

const rules = (
  parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  }
).groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(readFileSync('deploy/grafana/bulkhead.json', 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};
const queries = dashboard.panels.flatMap((panel) =>
  panel.targets.map((target) => ({ where: panel.title, expr: target.expr })),
);

describe('metric names in the shipped rules and dashboard', () => {
  it('the registries hold both processes’ metrics', () => {
    expect(registered.get('bulkhead_tool_calls_total')).toBe('counter');
    expect(registered.get('bulkhead_runtime_cold_start_seconds')).toBe('histogram');
  });

  it('every alert expression names only registered metrics', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      const names = metricsIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(registered.has(name), `${rule.alert}: ${name}`).toBe(true);
    }
  });

  it('every dashboard query names only registered metrics', () => {
    expect(queries.length).toBeGreaterThan(0);
    for (const { where, expr } of queries) {
      const names = metricsIn(expr);
      expect(names.length, where).toBeGreaterThan(0);
      for (const name of names) expect(registered.has(name), `${where}: ${name}`).toBe(true);
    }
  });

  it('docs/observability.md describes every registered metric', () => {
    const doc = readFileSync('docs/observability.md', 'utf8');
    for (const name of registered.keys()) expect(doc, name).toContain(`\`${name}\``);
  });
});
