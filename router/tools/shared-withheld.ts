// The tools the drift guard withholds, shared by the routers of one installation through Redis
// (docs/tools.md, "Rug-pull protection"). Each router checks the tenant containers it has routes
// to, on its own schedule; a container that presents a drifted definition to one router (a rug
// pull, or code that answers each connection differently) would otherwise stay served by the
// others until their own next check. Each router publishes what its own checks withhold, under an id
// of its own, again on every check that still finds it, and takes it back when its check finds the
// approved definition; every router polls the set and withholds what any other router's entry
// names. An entry no check has renewed within `maxAgeMs` (its router gone, or its route dropped) is
// left out and removed, so a dead router withholds nothing for long.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { withheldToolsKey } from '../../kernel/redis/keys.ts';
import type { Withheld } from './drift-guard.ts';

const EntrySchema = z.object({
  reason: z.enum(['definition_changed', 'missing']),
  expected: z.string().max(128),
  actual: z.string().max(128).nullable(),
  /** When the publishing router's check last found it, ms since the epoch. */
  at: z.number(),
});

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
    return `${tenant}\n${tool}\n${this.routerId}`;
  }

  /** This router's check withholds the tool (sent, not awaited: the check does not wait on Redis). */
  publish(tenant: string, tool: string, withheld: Withheld): void {
    const entry = JSON.stringify({ ...withheld, at: this.#now() } satisfies z.infer<typeof EntrySchema>);
    this.#options.redis
      .hset(this.#key, this.#field(tenant, tool), entry)
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

  /**
   * What the other routers withhold now, per tenant; entries past their age, or that do not parse
   * (not written by a router), are removed.
   */
  async read(): Promise<Map<string, Map<string, Withheld>>> {
    const fields = await this.#options.redis.hgetall(this.#key);
    const others = new Map<string, Map<string, Withheld>>();
    const dropped: string[] = [];
    const oldest = this.#now() - this.#options.maxAgeMs;
    for (const [field, value] of Object.entries(fields)) {
      const [tenant, tool, router, ...rest] = field.split('\n');
      const entry = parsed(value);
      if (!tenant || !tool || !router || rest.length > 0 || !entry || entry.at < oldest) {
        dropped.push(field);
        continue;
      }
      if (router === this.routerId) continue;
      const tools = others.get(tenant) ?? new Map<string, Withheld>();
      tools.set(tool, { reason: entry.reason, expected: entry.expected, actual: entry.actual });
      others.set(tenant, tools);
    }
    if (dropped.length > 0) await this.#options.redis.hdel(this.#key, ...dropped);
    return others;
  }
}

function parsed(value: string): z.infer<typeof EntrySchema> | undefined {
  try {
    const entry = EntrySchema.safeParse(JSON.parse(value));
    return entry.success ? entry.data : undefined;
  } catch {
    return undefined;
  }
}
