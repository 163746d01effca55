// A real Prometheus server (Debian's `prometheus` binary, installed by .ci/setup.sh) for a test: its
// own config and data directory in a temporary directory, its own loopback port, scraping the
// targets it is given every second; PromQL through its HTTP API. Stopped (and its directory
// removed) by `stop()`; every wait is bounded.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './stack.ts';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PromRule {
  name: string;
  health: string;
  lastError?: string;
}

/** A running Prometheus's HTTP API, as tests use it. */
export interface PrometheusClient {
  /** An instant query; each series of the vector with its value. */
  query(promql: string): Promise<PromSample[]>;
  /**
   * Waits until `check` holds for the value of `promql`'s single series; fails once every target has
   * been scraped `scrapes` more times (default 30) without it.
   */
  waitFor(promql: string, check: (value: number | undefined) => boolean, scrapes?: number): Promise<number>;
  /**
   * The loaded alerting and recording rules once `check` holds for them, or as they are after every
   * rule group has been evaluated `evaluations` more times (default 30), for the caller to assert on.
   */
  settledRules(check: (rules: PromRule[]) => boolean, evaluations?: number): Promise<PromRule[]>;
  /** GET of an API path (e.g. /api/v1/targets), its `data`. */
  api(path: string): Promise<unknown>;
}

export interface PrometheusServer extends PrometheusClient {
  url: string;
  logTail(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Job name to `host:port` targets (a metrics URL's host, path /metrics). */
  jobs: Record<string, string[]>;
  /** Rule files to load (absolute paths). */
  ruleFiles?: string[];
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: Object.entries(options.jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets }],
    })),
  };
  // JSON is YAML: no YAML writer needed for the config.
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-8_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
  }

  try {
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${tail}`);
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (attempt > 120) throw new Error(`prometheus not ready after 30 s: ${tail}`);
      await delay(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    ...prometheusAt(url, {
      scraping: Object.values(options.jobs).some((targets) => targets.length > 0),
      evaluating: (options.ruleFiles ?? []).length > 0,
      exited: () => (child.exitCode !== null || child.signalCode !== null ? tail : undefined),
    }),
    logTail: () => tail,
    stop,
  };
}

export interface PrometheusAtOptions {
  /** Whether it has targets to scrape (else a wait for a scrape ends at once). */
  scraping: boolean;
  /** Whether it has rules to evaluate (else a wait for an evaluation ends at once). */
  evaluating: boolean;
  /** Its log tail once it has exited, undefined while it runs (a Prometheus this process started). */
  exited?: () => string | undefined;
}

/**
 * The API of the Prometheus at `url`: one a test started (startPrometheus) or one a stack runs
 * (docker-compose.yml's observability profile).
 */
export function prometheusAt(url: string, options: PrometheusAtOptions): PrometheusClient {
  async function api(path: string): Promise<unknown> {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`);
    return body.data;
  }

  async function query(promql: string): Promise<PromSample[]> {
    const data = (await api(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
    if (data.resultType !== 'vector') throw new Error(`${promql}: a ${data.resultType}, not a vector`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  // The waits below are bounded by Prometheus's own progress (scrapes, rule evaluations), not by a
  // clock: a loaded machine makes them slower to come, not the wait shorter. A Prometheus that
  // exits (stop() included) or stops answering ends them.
  /** The time of the newest scrape of the target scraped longest ago. */
  async function oldestScrape(): Promise<string> {
    const data = (await api('/api/v1/targets?state=active')) as { activeTargets: { lastScrape: string }[] };
    return data.activeTargets.map((t) => t.lastScrape).sort()[0] ?? '';
  }

  /** The time of the newest evaluation of the rule group evaluated longest ago. */
  async function oldestEvaluation(): Promise<string> {
    const data = (await api('/api/v1/rules')) as { groups: { lastEvaluation: string }[] };
    return data.groups.map((g) => g.lastEvaluation).sort()[0] ?? '';
  }

  /**
   * Counts the rounds in which `mark` moved: `within(n)` is false once it moved n times, and at once
   * when nothing was configured that could move it (`configured`: no target, or no rule file).
   */
  function rounds(mark: () => Promise<string>, configured: boolean): { within(n: number): Promise<boolean> } {
    let seen: string | undefined;
    let moved = 0;
    return {
      async within(n) {
        const tail = options.exited?.();
        if (tail !== undefined) throw new Error(`prometheus exited: ${tail}`);
        const now = await mark();
        if (seen !== undefined && now !== seen) moved += 1;
        seen = now;
        return configured && moved < n;
      },
    };
  }

  return {
    query,
    api,
    async waitFor(promql, check, scrapes = 30) {
      const progress = rounds(oldestScrape, options.scraping);
      let last: number | undefined;
      while (await progress.within(scrapes)) {
        const result = await query(promql);
        last = result.length === 1 ? result[0]?.value : undefined;
        if (check(last)) return last as number;
        await delay(250);
      }
      throw new Error(`${promql} = ${last} after ${scrapes} scrapes of every target`);
    },
    async settledRules(check, evaluations = 30) {
      const progress = rounds(oldestEvaluation, options.evaluating);
      let rules: PromRule[] = [];
      while (await progress.within(evaluations)) {
        const data = (await api('/api/v1/rules')) as { groups: { rules: PromRule[] }[] };
        rules = data.groups.flatMap((g) => g.rules);
        if (check(rules)) break;
        await delay(250);
      }
      return rules;
    },
  };
}
