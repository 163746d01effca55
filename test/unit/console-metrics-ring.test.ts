// The console's ring of scraped metrics: rates from counter increases per target, a restarted
// process (its counters back at zero) costs no negative point, a failed target is reported, and
// the ring keeps only the last N scrapes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRing } from '../../console/metrics/metrics-ring.ts';

const servers: Server[] = [];

/** A /metrics endpoint answering whatever `body()` says now. */
async function endpoint(body: () => string): Promise<string> {
  const server = createServer((_req, res) => res.end(body()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const router = (ok: number, failed: number, seconds: number): string =>
  [
    `bulkhead_tool_calls_total{tool="records_get",outcome="ok",error_class="none"} ${ok}`,
    `bulkhead_tool_calls_total{tool="records_get",outcome="unknown_id",error_class="validation"} ${failed}`,
    `bulkhead_tool_call_duration_seconds_sum{tool="records_get"} ${seconds}`,
    `bulkhead_tool_call_duration_seconds_count{tool="records_get"} ${ok + failed}`,
  ].join('\n');

describe('MetricsRing', () => {
  it('turns counter increases into per-minute rates and mean latency, and survives a restart', async () => {
    let text = router(10, 2, 1.2);
    const url = await endpoint(() => text);
    const ring = new MetricsRing({ targets: [url], samplesKept: 10 });
    await ring.scrape(0);
    text = router(40, 2, 2.7); // 30 calls in 30 s, 1.5 s between them
    await ring.scrape(30_000);
    text = router(6, 1, 0.7); // restarted: 7 calls since, 0.1 s each
    await ring.scrape(60_000);
    const charts = ring.charts();
    expect(charts.calls.x).toEqual([30, 60]);
    expect(charts.calls.series).toEqual([{ label: 'records_get', values: [60, 14] }]);
    expect(charts.errors.series).toEqual([{ label: 'records_get', values: [0, 2] }]);
    expect(charts.latencyMs.series).toEqual([{ label: 'records_get', values: [50, 100] }]);
    expect(charts.targets).toEqual([{ url, ok: true }]);
  });

  it('reports a target that fails and keeps only the last scrapes', async () => {
    const memory = (mib: number): string =>
      `bulkhead_runtime_memory_bytes{tenant="acme",state="running"} ${mib * 1_048_576}`;
    let mib = 1;
    const good = await endpoint(() => memory(mib++));
    const ring = new MetricsRing({ targets: [good, 'http://127.0.0.1:1/metrics'], samplesKept: 3 });
    for (let i = 0; i < 5; i++) await ring.scrape(i * 1000);
    const charts = ring.charts();
    expect(charts.memoryMiB.series).toEqual([{ label: 'acme', values: [4, 5] }]);
    expect(charts.targets[1]).toMatchObject({ url: 'http://127.0.0.1:1/metrics', ok: false });
  });
});
