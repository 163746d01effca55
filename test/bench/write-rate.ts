// Writes per second through a router for one tenant (warm-writes.ts, a part of lifecycle.ts): N
// kept-alive connections, each sending its next write as soon as the last is answered, for a fixed
// time; the stock SDK client's records_create, captured once and sent raw with a fresh idempotency
// key each time, so every write is a write. With 10 connections the router's concurrency gate lets 8
// of them into the container at once (kernel/process/concurrency-gate.ts) and queues the others.
import { Pool } from 'undici';
import type { CapturedRequest } from '../support/mcp-client.ts';

/** A body whose idempotency key is new: a replayed one is answered from the key table, not written. */
export function withFreshKey(body: string, key: string): string {
  const parsed = JSON.parse(body) as { params: { arguments: Record<string, unknown> } };
  parsed.params.arguments.idempotency_key = `${key}-${Date.now()}-${Math.random()}`;
  return JSON.stringify(parsed);
}

export interface WriteRate {
  /** Writes answered with a result per second. */
  rate: number;
  /** Writes answered with a tool error or another status (not counted in the rate). */
  refused: number;
}

/** `connections` writers to `mcpUrl` for `seconds`, `write` sent with a fresh key each time. */
export async function writeRate(
  mcpUrl: string,
  write: CapturedRequest,
  options: { connections: number; seconds: number; keyPrefix: string },
): Promise<WriteRate> {
  const url = new URL(mcpUrl);
  const pool = new Pool(url.origin, { connections: options.connections, pipelining: 1 });
  let done = 0;
  let refused = 0;
  let n = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        while (performance.now() < deadline) {
          const res = await pool.request({
            path: url.pathname,
            method: 'POST',
            headers: write.headers,
            body: withFreshKey(write.body, `${options.keyPrefix}-${(n += 1)}`),
          });
          const text = await res.body.text();
          if (res.statusCode === 200 && !text.includes('"isError":true')) done += 1;
          else refused += 1;
        }
      }),
    );
    return { rate: (done * 1000) / (performance.now() - started), refused };
  } finally {
    await pool.close();
  }
}
