// Memory, CPU and PIDs of every running tenant container, collected from the engine and exported
// two ways: a snapshot in Redis (one hash per installation, a field per tenant, read by operators
// and dashboards without touching the Docker socket) and Prometheus text for a `/metrics` endpoint.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { metricsKey } from '../../kernel/redis/keys.ts';
import type { RuntimeDriver, RuntimeUsage } from '../runtime/runtime-driver.ts';
import type { CreateLimiter } from '../lifecycle/create-limiter.ts';

export interface RuntimeSample extends RuntimeUsage {
  tenantId: string;
  state: string;
  at: string;
}

export async function collectRuntimeMetrics(driver: RuntimeDriver): Promise<RuntimeSample[]> {
  const at = new Date().toISOString();
  const runtimes = await driver.list();
  const samples = await Promise.all(
    runtimes.map(async (info): Promise<RuntimeSample> => {
      const usage =
        info.state === 'running' ? await driver.usage(info.tenantId).catch(() => undefined) : undefined;
      return {
        tenantId: info.tenantId,
        state: info.state,
        at,
        memoryBytes: usage?.memoryBytes ?? 0,
        memoryLimitBytes: usage?.memoryLimitBytes ?? 0,
        memoryPeakBytes: usage?.memoryPeakBytes ?? 0,
        cpuSeconds: usage?.cpuSeconds ?? 0,
        pids: usage?.pids ?? 0,
        pidsLimit: usage?.pidsLimit ?? 0,
      };
    }),
  );
  return samples.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

/** Replaces the snapshot: tenants without a container disappear from it. */
export async function publishRuntimeMetrics(
  redis: Redis,
  prefix: string,
  samples: RuntimeSample[],
): Promise<void> {
  const key = metricsKey(prefix);
  const multi = redis.multi().del(key);
  if (samples.length > 0)
    multi.hset(key, Object.fromEntries(samples.map((s) => [s.tenantId, JSON.stringify(s)])));
  await multi.exec();
}

/** `tampering`: detections of a tampered runtime socket per tenant (client/socket-tamper.ts). */
export function renderPrometheus(
  samples: RuntimeSample[],
  limiter?: CreateLimiter,
  tampering: Record<string, number> = {},
): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, value: (s: RuntimeSample) => number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const s of samples) lines.push(`${name}{tenant="${s.tenantId}",state="${s.state}"} ${value(s)}`);
  };
  gauge('bulkhead_runtime_memory_bytes', 'Working-set memory of the tenant container.', (s) => s.memoryBytes);
  gauge(
    'bulkhead_runtime_memory_limit_bytes',
    'Memory limit of the tenant container.',
    (s) => s.memoryLimitBytes,
  );
  gauge('bulkhead_runtime_cpu_seconds_total', 'CPU time used by the tenant container.', (s) => s.cpuSeconds);
  gauge('bulkhead_runtime_pids', 'Processes and threads in the tenant container.', (s) => s.pids);
  if (limiter) {
    lines.push(
      '# TYPE bulkhead_creates_in_flight gauge',
      `bulkhead_creates_in_flight ${limiter.inFlight}`,
      '# TYPE bulkhead_creates_queued gauge',
      `bulkhead_creates_queued ${limiter.queued}`,
      '# TYPE bulkhead_creates_max_in_flight gauge',
      `bulkhead_creates_max_in_flight ${limiter.maxInFlight}`,
    );
  }
  lines.push(
    '# HELP bulkhead_runtime_socket_tampering_total Times a tenant runtime socket was found tampered with.',
    '# TYPE bulkhead_runtime_socket_tampering_total counter',
  );
  for (const [tenant, count] of Object.entries(tampering).sort(([a], [b]) => a.localeCompare(b)))
    lines.push(`bulkhead_runtime_socket_tampering_total{tenant="${tenant}"} ${count}`);
  return `${lines.join('\n')}\n`;
}

/** A loopback `/metrics` endpoint (Prometheus text), collected on each scrape. */
export async function serveMetrics(options: {
  host: string;
  port: number;
  collect: () => Promise<string>;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    options.collect().then(
      (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
