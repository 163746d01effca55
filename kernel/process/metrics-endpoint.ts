// The loopback `/metrics` listener the router and the supervisor each run beside their own work
// (never on the router's public /mcp listener): it answers one prom-client registry in the
// Prometheus text format, after `refresh` brought the sampled gauges up to date.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(options: {
  host: string;
  port: number;
  registry: Registry;
  /** Brings the sampled metrics up to date before each scrape. */
  refresh?: () => Promise<void>;
}): Promise<MetricsEndpoint> {
  const { registry, refresh } = options;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    (refresh ?? (() => Promise.resolve()))()
      .then(() => registry.metrics())
      .then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
