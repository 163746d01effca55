// The tools the drift guard withholds, shared by the routers of one installation through Redis
// (docs/tools.md, "Rug-pull protection"; the format: kernel/registry/withheld-tools.ts). Each router
// checks the tenant containers it has routes to, on its own schedule; a container that presents a
// drifted definition to one router (a rug pull, or code that answers each connection differently)
// would otherwise stay served by the others until their own next check. Each router publishes what
// its own checks withhold, under an id of its own, again on every check that still finds it, and
// takes it back when its check finds the approved definition; every router polls the set and
// withholds what any other router's entry names. An entry no check has renewed within `maxAgeMs`
// (its router gone, or its route dropped) is left out and removed, so a dead router withholds
// nothing for long.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { withheldToolsKey } from '../../kernel/redis/keys.ts';
import {
  readWithheld,
  withheldField,
  withheldValue,
  type Withheld,
} from '../../kernel/registry/withheld-tools.ts';

export interface SharedWithheldOptions {
  redis: Redis;
  /** The installation's Redis key prefix. */
  prefix: string;
  logger: Logger;
  /**
   * How long an entry counts without a check renewing it: three of the routers' check intervals
   * (BULKHEAD_TOOL_CHECK_INTERVAL_MS), so one late check does not drop it.
   */
  maxAgeMs: number;
  now?: () => number;
}

export class SharedWithheld {
  /** This router's id in the set: its own entries are its checks', not another router's. */
  readonly routerId = randomUUID();
  readonly #options: SharedWithheldOptions;
  readonly #key: string;
  readonly #now: () => number;

  constructor(options: SharedWithheldOptions) {
    this.#options = options;
    this.#key = withheldToolsKey(options.prefix);
    this.#now = options.now ?? Date.now;
  }

  #field(tenant: string, tool: string): string {
    return withheldField({ tenant, tool, router: this.routerId });
  }

  /** This router's check withholds the tool (sent, not awaited: the check does not wait on Redis). */
  publish(tenant: string, tool: string, withheld: Withheld): void {
    this.#options.redis
      .hset(this.#key, this.#field(tenant, tool), withheldValue(withheld, this.#now()))
      .catch((error: unknown) =>
        this.#options.logger.warn({ err: error, tenant, tool }, 'withheld tool not shared'),
      );
  }

  /** This router's check found the approved definition again. */
  unpublish(tenant: string, tool: string): void {
    this.#options.redis
      .hdel(this.#key, this.#field(tenant, tool))
      .catch((error: unknown) =>
        this.#options.logger.warn(
          { err: error, tenant, tool },
          'withheld tool not taken back from the shared set',
        ),
      );
  }

  /** What the other routers withhold now, per tenant (this router's own entries left out). */
  async read(): Promise<Map<string, Map<string, Withheld>>> {
    const entries = await readWithheld({
      redis: this.#options.redis,
      prefix: this.#options.prefix,
      maxAgeMs: this.#options.maxAgeMs,
      now: this.#now(),
    });
    const others = new Map<string, Map<string, Withheld>>();
    for (const { tenant, tool, router, reason, expected, actual } of entries) {
      if (router === this.routerId) continue;
      const tools = others.get(tenant) ?? new Map<string, Withheld>();
      tools.set(tool, { reason, expected, actual });
      others.set(tenant, tools);
    }
    return others;
  }
}
