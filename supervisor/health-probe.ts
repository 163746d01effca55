// Readiness of a tenant runtime: its socket answers the (data-free) health endpoint. The connection
// goes through the socket checks (client/runtime-socket.ts): a tampered socket is never connected
// to, and the probe rejects with RuntimeSocketTamperedError so that the caller treats it as the
// security event it is, not as a slow start.
import { request } from 'node:http';
import type { RuntimeEndpoint } from '../tenants/contracts/runtime-endpoint.ts';
import { runtimeRequestOptions, tamperedSocketIn } from './client/runtime-socket.ts';

/** Resolves whether the runtime answered healthy; rejects only when its socket was tampered with. */
export type HealthProbe = (endpoint: RuntimeEndpoint) => Promise<boolean>;

export const probeHealth: HealthProbe = (endpoint) =>
  new Promise((resolve, reject) => {
    const target =
      endpoint.kind === 'unix'
        ? { ...runtimeRequestOptions(endpoint), path: '/healthz' }
        : { host: new URL(endpoint.url).hostname, port: new URL(endpoint.url).port, path: '/healthz' };
    // A signal, not the `timeout` option: that one never fires on a connection made by
    // `createConnection` (measured), and a frozen runtime accepts connections but never answers.
    const req = request({ ...target, method: 'GET', signal: AbortSignal.timeout(1_000) }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', (error) => {
      const tampered = tamperedSocketIn(error);
      if (tampered) reject(tampered);
      else resolve(false);
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
