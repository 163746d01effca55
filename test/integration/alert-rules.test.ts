// The shipped alerting rules (deploy/prometheus/alerts.yml) fire on what they are for and stay quiet
// otherwise, as Prometheus's own rule tester (Debian's `promtool`, installed with `prometheus` by
// .ci/setup.sh) evaluates them against the series in deploy/prometheus/alerts-*.test.yml. Those series
// use only names and labels the router's, the supervisor's and the egress gateway's registries register, so a rule that
// groups by a label its metric lacks cannot pass on made-up series. Each alert made to always fire,
// and then never, breaks the tests: they can fail for every alert.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { EgressMetrics } from '../../egress/egress-metrics.ts';
import { RouterMetrics } from '../../router/metrics/router-metrics.ts';
import { SupervisorMetrics } from '../../supervisor/metrics/runtime-metrics.ts';

const RULES = 'deploy/prometheus/alerts.yml';
/** The rule tests, the router's, the supervisor's and the egress gateway's, each next to the rules it loads (alerts.yml). */
const TESTS = ['alerts-router.test.yml', 'alerts-supervisor.test.yml', 'alerts-egress.test.yml'];
const DEPLOYED = 'deploy/prometheus';
const run = promisify(execFile);

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
}
interface RuleTests {
  tests: {
    input_series: { series: string; values: string }[];
    alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
  }[];
}

/** promtool's exit status and what it printed: a failing test exits non-zero. */
async function promtool(...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args);
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** Every registered series name with the labels it may carry (a scrape adds job and instance). */
function registeredSeries(): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const registry of [
    new RouterMetrics().registry,
    new SupervisorMetrics().registry,
    new EgressMetrics().registry,
  ]) {
    for (const metric of registry.getMetricsAsArray()) {
      const labels = (metric as unknown as { labelNames: string[] }).labelNames;
      const allowed = (...extra: string[]) => new Set(['job', 'instance', ...labels, ...extra]);
      if (metric instanceof Histogram) {
        series.set(`${metric.name}_bucket`, allowed('le'));
        series.set(`${metric.name}_count`, allowed());
        series.set(`${metric.name}_sum`, allowed());
      } else series.set(metric.name, allowed());
    }
  }
  return series;
}

/** A series selector as written in the tests: `name{label="value",...}`. */
function selector(text: string): { name: string; labels: string[] } {
  const match = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})?$/i.exec(text.trim());
  if (!match) throw new Error(`not a series selector: ${text}`);
  const labels = [...(match[2] ?? '').matchAll(/([a-z_][a-z0-9_]*)\s*=\s*"(?:[^"\\]|\\.)*"/gi)];
  return { name: match[1]!, labels: labels.map((label) => label[1]!) };
}

let rules: RuleFile;
let tests: RuleTests;
let scratch: string;

beforeAll(async () => {
  rules = parse(await readFile(RULES, 'utf8')) as RuleFile;
  const files = await Promise.all(TESTS.map((file) => readFile(join(DEPLOYED, file), 'utf8')));
  tests = { tests: files.flatMap((text) => (parse(text) as RuleTests).tests) };
  scratch = await mkdtemp(join(tmpdir(), 'bulkhead-alert-rules-'));
  for (const file of TESTS) await copyFile(join(DEPLOYED, file), join(scratch, file));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const alerts = (): string[] => rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert));

/** The tests run against alerts.yml with one alert's expression replaced. */
async function testWith(alert: string, expr: string): Promise<{ ok: boolean; output: string }> {
  const changed: RuleFile = {
    groups: rules.groups.map((group) => ({
      ...group,
      rules: group.rules.map((rule) => (rule.alert === alert ? { ...rule, expr } : rule)),
    })),
  };
  await writeFile(join(scratch, 'alerts.yml'), stringify(changed));
  return promtool('test', 'rules', ...TESTS.map((file) => join(scratch, file)));
}

describe('the shipped alerting rules', () => {
  it('are valid rules, and pass their tests', async () => {
    const check = await promtool('check', 'rules', RULES);
    expect(check.output).toContain(`SUCCESS: ${alerts().length} rules found`);
    expect(check.ok).toBe(true);
    // Every test file shipped is run here: none is left out.
    const shipped = (await readdir(DEPLOYED)).filter((file) => file.endsWith('.test.yml'));
    expect(shipped.sort()).toEqual([...TESTS].sort());
    const result = await promtool('test', 'rules', ...TESTS.map((file) => join(DEPLOYED, file)));
    expect(result.output).toContain('SUCCESS');
    expect(result.ok, result.output).toBe(true);
  });

  it('every alert is tested firing and quiet', () => {
    const cases = tests.tests.flatMap((test) => test.alert_rule_test);
    expect(alerts().length).toBeGreaterThan(0);
    for (const alert of alerts()) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${alert} fires`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${alert} stays quiet`,
      ).toBe(true);
    }
    const named = new Set(cases.map((c) => c.alertname));
    expect([...named].filter((name) => !alerts().includes(name))).toEqual([]);
  });

  it('the tests’ series use only registered names and labels', () => {
    const registered = registeredSeries();
    const inputs = tests.tests.flatMap((test) => test.input_series.map((input) => input.series));
    expect(inputs.length).toBeGreaterThan(0);
    for (const input of inputs) {
      const { name, labels } = selector(input);
      const allowed = registered.get(name);
      expect(allowed, `${name} is registered`).toBeDefined();
      for (const label of labels) expect(allowed!.has(label), `${name} has label ${label}`).toBe(true);
    }
  });

  it('fail for any alert that always fires, or never does', async () => {
    for (const alert of alerts()) {
      const always = await testWith(alert, 'vector(1)');
      expect(always.ok, `${alert} always firing`).toBe(false);
      expect(always.output).toContain(`alertname: ${alert},`);
      const never = await testWith(alert, 'vector(1) < 0');
      expect(never.ok, `${alert} never firing`).toBe(false);
      expect(never.output).toContain(`alertname: ${alert},`);
    }
  }, 120_000);
});
