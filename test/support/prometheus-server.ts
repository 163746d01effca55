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

export interface PrometheusServer {
  url: string;
  /** An instant query; each series of the vector with its value. */
  query(promql: string): Promise<PromSample[]>;
  /** Waits (bounded) until `check` holds for the value of `promql`'s single series. */
  waitFor(promql: string, check: (value: number | undefined) => boolean, timeoutMs?: number): Promise<number>;
  /** GET of an API path (e.g. /api/v1/targets), its `data`. */
  api(path: string): Promise<unknown>;
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
    query,
    api,
    async waitFor(promql, check, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: number | undefined;
      while (Date.now() < deadline) {
        const result = await query(promql);
        last = result.length === 1 ? result[0]?.value : undefined;
        if (check(last)) return last as number;
        await delay(500);
      }
      throw new Error(`${promql} = ${last} after ${timeoutMs} ms`);
    },
    logTail: () => tail,
    stop,
  };
}
