// Readiness of a tenant runtime: its socket answers the (data-free) health endpoint. The answer
// comes from tenant code, so the read is bounded: headers at most 16 KiB, the status line is all
// that is read (the body is discarded unread), and the whole probe ends within 2 s.
import { request } from 'node:http';
import type { RuntimeEndpoint } from '../tenants/contracts/runtime-endpoint.ts';

export type HealthProbe = (endpoint: RuntimeEndpoint) => Promise<boolean>;

const PROBE_MAX_HEADER_BYTES = 16 * 1024;
const PROBE_DEADLINE_MS = 2_000;

export const probeHealth: HealthProbe = (endpoint) =>
  new Promise((resolve) => {
    const target =
      endpoint.kind === 'unix'
        ? { socketPath: endpoint.socketPath, path: '/healthz' }
        : { host: new URL(endpoint.url).hostname, port: new URL(endpoint.url).port, path: '/healthz' };
    const deadline = setTimeout(() => req.destroy(), PROBE_DEADLINE_MS);
    const req = request(
      { ...target, method: 'GET', timeout: 1_000, maxHeaderSize: PROBE_MAX_HEADER_BYTES },
      (res) => {
        clearTimeout(deadline);
        resolve(res.statusCode === 200);
        req.destroy();
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.on('close', () => {
      clearTimeout(deadline);
      resolve(false);
    });
    req.end();
  });

export async function waitUntilHealthy(
  endpoint: RuntimeEndpoint,
  options: { probe: HealthProbe; timeoutMs: number; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await options.probe(endpoint)) return;
    if (Date.now() >= deadline)
      throw new Error(`runtime did not become healthy within ${options.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 15));
  }
}
