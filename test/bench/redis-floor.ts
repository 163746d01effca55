// The least a control that waits for Redis can cost, for the benchmarks' floors (router-peer.ts,
// observability-overhead.ts): a caller waits for one Redis round trip of an empty script, shared
// with every caller that arrives meanwhile, as the router's audit trail groups its appends
// (kernel/audit/audit-trail.ts): the first waits for the I/O callbacks at hand (setImmediate), and
// whoever arrives while a round trip is out goes in the next one. Only the wait: none of the
// control's own work (no record, no hash, no budgets), so the router's control cannot cost less.
import type { Redis } from 'ioredis';
import { scheduleFlush, type FlushRequest } from '../../kernel/redis/flush-timing.ts';

export type RoundTrip = () => Promise<void>;

/**
 * `request.alone`: the first caller's round trip goes once the current microtasks have run, not at
 * the turn's end, as the router sends a lone client's (kernel/redis/flush-timing.ts).
 */
export async function groupedRoundTrip(redis: Redis, request: FlushRequest = {}): Promise<RoundTrip> {
  const sha = (await redis.script('LOAD', 'return 1')) as string;
  let waiting: { resolve(): void; reject(error: unknown): void }[] | undefined;
  const drain = async (): Promise<void> => {
    for (;;) {
      const batch = waiting ?? [];
      if (batch.length === 0) return void (waiting = undefined);
      waiting = [];
      try {
        await redis.evalsha(sha, 0);
        for (const caller of batch) caller.resolve();
      } catch (error) {
        for (const caller of batch) caller.reject(error);
      }
    }
  };
  return () =>
    new Promise<void>((resolve, reject) => {
      if (waiting) return void waiting.push({ resolve, reject });
      waiting = [{ resolve, reject }];
      scheduleFlush(() => void drain(), request);
    });
}
