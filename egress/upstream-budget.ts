// An upstream's call budget, shared by every tenant that calls it: the limiter's upstream layer. Until
// the limiter's own upstream layer is in the kernel, the gateway decides through this small port and
// its Redis implementation takes the same atomic GCRA script the router's limiter uses
// (kernel/redis/lua/rate-limit.lua), with only one layer in force, keyed on the upstream's name.
import type { Redis } from 'ioredis';
import { upstreamBudgetKey } from '../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../kernel/redis/scripts.ts';

export interface UpstreamDecision {
  admitted: boolean;
  limit: number;
  remaining: number;
  /** When refused: how long until a call would be admitted. */
  retryAfterMs: number;
}

/** The port the gateway decides through; undefined for an upstream that is not metered. */
export interface UpstreamBudget {
  take(upstream: string): Promise<UpstreamDecision | undefined>;
}

const MINUTE_MS = 60_000;

export class RedisUpstreamBudget implements UpstreamBudget {
  readonly #scripts: RedisScripts;
  readonly #prefix: string;
  readonly #perMinute: Readonly<Record<string, number>>;

  constructor(options: { redis: Redis; prefix: string; callsPerMinute: Readonly<Record<string, number>> }) {
    this.#scripts = redisScripts(options.redis);
    this.#prefix = options.prefix;
    this.#perMinute = options.callsPerMinute;
  }

  async take(upstream: string): Promise<UpstreamDecision | undefined> {
    const limit = this.#perMinute[upstream];
    if (limit === undefined) return undefined;
    const key = upstreamBudgetKey(this.#prefix, upstream);
    // The script's five layers; only the last (its per-tool slot) applies here.
    const reply = await this.#scripts.rateLimit(
      { tenantMinute: key, tenantDay: key, agent: key, user: key, tool: key },
      {
        tenantMinuteLimit: 0,
        tenantDayLimit: 0,
        agentLimit: 0,
        userLimit: 0,
        toolLimit: limit,
        tenantMinutePeriod: MINUTE_MS,
        tenantDayPeriod: MINUTE_MS,
        agentPeriod: MINUTE_MS,
        userPeriod: MINUTE_MS,
        toolPeriod: MINUTE_MS,
        peek: 0,
      },
    );
    const [, remaining = 0, , retryMs = 0] = reply.slice(2 + 4 * 4, 2 + 5 * 4);
    return { admitted: reply[0] === 1, limit, remaining, retryAfterMs: retryMs };
  }
}
