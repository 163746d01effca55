// The console's charts come from the routers' and the supervisor's own /metrics endpoints, scraped
// every interval into a ring of the last N scrapes, in memory. No Prometheus server is needed to see
// them (the development stack has none), memory is bounded by N times the series the processes
// export (tool labels come from the served surface, tenants from the registry), and a restart only
// loses the chart's history, never evidence. Counters are kept per target, so a router restarting
// (its counters back at zero) or missing one scrape costs one interval of the chart, nothing more.
import { parseExposition, type Sample } from '../../kernel/process/prometheus-text.ts';
// The page and the server share these shapes; the page's file imports nothing, so both may use it.
import type { ChartData, MetricsCharts } from '../ui/src/types.ts';

export type { ChartData, MetricsCharts };

/** The parts of one target's exposition the charts use. */
interface TargetReading {
  calls: Map<string, number>;
  errors: Map<string, number>;
  latencySum: Map<string, number>;
  latencyCount: Map<string, number>;
  memory: Map<string, number>;
}

interface Scrape {
  atMs: number;
  targets: Map<string, TargetReading>;
}

const add = (map: Map<string, number>, key: string, value: number): void => {
  map.set(key, (map.get(key) ?? 0) + value);
};

function reading(samples: Sample[]): TargetReading {
  const r: TargetReading = {
    calls: new Map(),
    errors: new Map(),
    latencySum: new Map(),
    latencyCount: new Map(),
    memory: new Map(),
  };
  for (const s of samples) {
    const tool = s.labels['tool'];
    if (s.name === 'bulkhead_tool_calls_total' && tool) {
      add(r.calls, tool, s.value);
      if (s.labels['outcome'] !== 'ok') add(r.errors, tool, s.value);
    } else if (s.name === 'bulkhead_tool_call_duration_seconds_sum' && tool) add(r.latencySum, tool, s.value);
    else if (s.name === 'bulkhead_tool_call_duration_seconds_count' && tool)
      add(r.latencyCount, tool, s.value);
    else if (s.name === 'bulkhead_runtime_memory_bytes' && s.labels['tenant'])
      add(r.memory, s.labels['tenant'], s.value);
  }
  return r;
}

/** A counter's increase between two readings; a drop means the process restarted from zero. */
function increase(before: number | undefined, after: number | undefined): number | undefined {
  if (after === undefined) return undefined;
  if (before === undefined || after < before) return after;
  return after - before;
}

export class MetricsRing {
  readonly #targets: string[];
  readonly #size: number;
  readonly #ring: Scrape[] = [];
  readonly #status = new Map<string, { ok: boolean; error?: string }>();

  constructor(options: { targets: string[]; samplesKept: number }) {
    this.#targets = options.targets;
    this.#size = options.samplesKept;
  }

  /** One scrape of every target (a failed target is left out of this scrape and reported). */
  async scrape(now = Date.now()): Promise<void> {
    const targets = new Map<string, TargetReading>();
    await Promise.all(
      this.#targets.map(async (url) => {
        try {
          const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          targets.set(url, reading(parseExposition(await response.text())));
          this.#status.set(url, { ok: true });
        } catch (error) {
          this.#status.set(url, { ok: false, error: (error as Error).message });
        }
      }),
    );
    this.#ring.push({ atMs: now, targets });
    if (this.#ring.length > this.#size) this.#ring.shift();
  }

  charts(): MetricsCharts {
    const intervals = this.#ring.slice(1).map((scrape, i) => ({ before: this.#ring[i]!, after: scrape }));
    const x = intervals.map(({ after }) => Math.round(after.atMs / 1000));
    const perTool = (pick: (r: TargetReading) => Map<string, number>): Map<string, (number | null)[]> => {
      const out = new Map<string, (number | null)[]>();
      intervals.forEach(({ before, after }, index) => {
        for (const [url, now] of after.targets) {
          const then = before.targets.get(url);
          if (!then) continue;
          for (const [key, value] of pick(now)) {
            const delta = increase(pick(then).get(key), value) ?? 0;
            const row = out.get(key) ?? new Array<number | null>(intervals.length).fill(null);
            row[index] = (row[index] ?? 0) + delta;
            out.set(key, row);
          }
        }
      });
      return out;
    };
    const minutes = intervals.map(({ before, after }) => (after.atMs - before.atMs) / 60_000);
    const rate = (rows: Map<string, (number | null)[]>): ChartData['series'] =>
      [...rows].map(([label, values]) => ({
        label,
        values: values.map((v, i) => (v === null ? null : round(v / (minutes[i] || 1)))),
      }));
    const sums = perTool((r) => r.latencySum);
    const counts = perTool((r) => r.latencyCount);
    const latency = [...sums].map(([label, values]) => ({
      label,
      values: values.map((sum, i) => {
        const count = counts.get(label)?.[i];
        return sum === null || !count ? null : round((sum / count) * 1000);
      }),
    }));
    const tenants = new Set(
      intervals.flatMap(({ after }) => [...after.targets.values()].flatMap((r) => [...r.memory.keys()])),
    );
    const memory = [...tenants].sort().map((tenant) => ({
      label: tenant,
      values: intervals.map(({ after }) => {
        const bytes = [...after.targets.values()]
          .map((r) => r.memory.get(tenant))
          .find((v) => v !== undefined);
        return bytes === undefined ? null : round(bytes / 1_048_576);
      }),
    }));
    return {
      calls: { x, series: rate(perTool((r) => r.calls)) },
      errors: { x, series: rate(perTool((r) => r.errors)) },
      latencyMs: { x, series: latency },
      memoryMiB: { x, series: memory },
      targets: this.#targets.map((url) => ({
        url,
        ...(this.#status.get(url) ?? { ok: false, error: 'not scraped yet' }),
      })),
    };
  }
}

const round = (value: number): number => Math.round(value * 100) / 100;
