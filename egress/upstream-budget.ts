// An upstream's call budget, shared by every tenant that calls it: the rate limiter's upstream layer
// (kernel/ratelimit/upstream-budgets.ts), whose budgets operators set with `bulkhead quota
// --upstream` and the router charges too. The gateway decides through this small port, and gives
// back a call it charged that never reached the upstream (egress/proxy.ts).
import type { Redis } from 'ioredis';
import { chargeUpstream, refundUpstream } from '../kernel/ratelimit/upstream-budgets.ts';

export interface UpstreamDecision {
  admitted: boolean;
  limit: number;
  remaining: number;
  /** When refused: how long until a call would be admitted. */
  retryAfterMs: number;
}

/** The port the gateway decides through; undefined for an upstream that has no budget. */
export interface UpstreamBudget {
  take(upstream: string): Promise<UpstreamDecision | undefined>;
  /** Gives back one call `take` admitted that never reached the upstream. */
  refund(upstream: string): Promise<void>;
}

export class RedisUpstreamBudget implements UpstreamBudget {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
  }

  async take(upstream: string): Promise<UpstreamDecision | undefined> {
    const decision = await chargeUpstream({ redis: this.#redis, prefix: this.#prefix, upstream });
    const layer = decision.refusedBy ?? decision.layers.find((l) => l.upstream === upstream);
    if (!layer) return undefined;
    return {
      admitted: decision.admitted,
      limit: layer.limit,
      remaining: layer.remaining,
      retryAfterMs: decision.admitted ? 0 : (layer.retry_after_ms ?? 1),
    };
  }

  async refund(upstream: string): Promise<void> {
    await refundUpstream({ redis: this.#redis, prefix: this.#prefix, upstream });
  }
}
