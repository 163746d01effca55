// Calls, errors and latency per tool over time, and each tenant runtime's memory, drawn with uPlot
// from the console's ring of scraped metrics (console/metrics/metrics-ring.ts).
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { Problem, useResource } from './format.ts';
import type { ChartData, MetricsCharts } from './types.ts';

const COLORS = ['#1f5fa8', '#b3261e', '#2e7d32', '#6a3d9a', '#8a5a00', '#00695c', '#ad1457', '#37474f'];

/** One colour per tool or tenant name, the same in every chart. */
function colorOf(label: string): string {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return COLORS[hash % COLORS.length] ?? '#1f5fa8';
}

function Chart({ title, unit, data }: { title: string; unit: string; data: ChartData }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || data.x.length === 0) return;
    const plot = new uPlot(
      {
        width: Math.min(box.current.clientWidth || 720, 900),
        height: 240,
        series: [
          {},
          ...data.series.map((s) => ({
            label: s.label,
            stroke: colorOf(s.label),
            width: 2,
            spanGaps: false,
          })),
        ],
        axes: [{}, { label: unit }],
      },
      [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
      box.current,
    );
    return () => plot.destroy();
  }, [data]);
  const slug = title.toLowerCase().replace(/[^a-z]+/g, '-');
  return html`<figure aria-labelledby=${slug}>
    <figcaption id=${slug}>${title} (${unit})</figcaption>
    ${data.x.length === 0 ? html`<p>No data yet: the console needs two scrapes of its targets.</p>` : null}
    <div ref=${box} class="chart"></div>
  </figure>`;
}

export function ChartsPage() {
  const { data, error, reload } = useResource<MetricsCharts>('/api/metrics');
  return html`<main id="main">
    <h1 tabindex="-1">Charts</h1>
    <${Problem} error=${error} />
    <p><button type="button" onClick=${reload}>Refresh</button></p>
    ${
      data === undefined
        ? html`<p>Loading…</p>`
        : html`${
              data.targets.length === 0
                ? html`<p>No metrics targets are configured (BULKHEAD_CONSOLE_METRICS_TARGETS).</p>`
                : html`<ul class="targets">
                    ${data.targets.map((t) => html`<li>${t.url}: ${t.ok ? 'scraped' : `not scraped (${t.error ?? ''})`}</li>`)}
                  </ul>`
            }
            <${Chart} title="Calls per tool" unit="calls per minute" data=${data.calls} />
            <${Chart} title="Errors per tool" unit="errors per minute" data=${data.errors} />
            <${Chart} title="Latency per tool" unit="mean milliseconds" data=${data.latencyMs} />
            <${Chart} title="Runtime memory per tenant" unit="MiB" data=${data.memoryMiB} />`
    }
  </main>`;
}
