// Where a write's result goes once it is answered (idempotency.ts): kept in Redis for replays
// within its tenant's byte budget (kernel/redis/lua/idempotency-keep.lua), or, past it, not kept
// and its claim given back. The budget bounds what one tenant's runtime can make the Redis every
// tenant shares hold: without it, a runtime answering each write with as much as the router reads
// had all of it kept for the window, at its call quota's pace. Nothing is lost and no write runs
// twice either way: the caller is answered with its result, and a replay of a key whose result was
// not kept claims the key again and reaches the tenant runtime, which answers it from its own key
// table (docs/pack-runtime.md, "Idempotency"): every result this keeps is of a call the runtime
// answered, and the runtime keeps each answered call's result for the same window, for the
// reference pack (in the write's transaction) and for an operator's pack of either idempotency
// mode. One script call, sent as the plain SET it replaced was: the answer does not wait for it.
// (After a SCRIPT FLUSH, ioredis sends the script whole again behind its NOSCRIPT answer, so once
// per connection it lands after the call's audit record: a replay in between finds the claim and
// waits for the result, as for a running call; it never runs the write.)
import type { Redis } from 'ioredis';
import {
  idempotencyKeptKey,
  idempotencyKeptTotalsKey,
  type IdempotencyPlace,
} from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';

/**
 * What each kept result is charged beyond Redis's MEMORY USAGE of its key: its entry in the
 * tenant's sorted set and its share of the totals hash (measured on Redis 7.0: about 113 bytes an
 * entry for 20,000 entries, 208 bytes for the first entry with the hash).
 */
export const KEPT_ENTRY_BYTES = 256;

/** The default budget: 64 MiB of results per tenant within the window (router/config.ts). */
export const DEFAULT_KEPT_RESULT_BYTES = 64 * 1024 * 1024;

/** A result that was not kept: why it is told, and how much its tenant keeps. */
export interface UnkeptResult {
  /** The first refusal since one of the tenant's results was last kept (in any router). */
  first: boolean;
  /** The tenant's bytes kept now, and its budget. */
  keptBytes: number;
  maxBytes: number;
}

/** Whose result: the tenant by its id and its record's `createdAt`, as the idempotency scope. */
export type KeepingTenant = Pick<IdempotencyPlace, 'tenant' | 'tenantCreatedAt'>;

export interface ResultKeepingOptions {
  redis: Redis;
  prefix: string;
  windowMs: number;
  /** Bytes of results one tenant may keep within the window (DEFAULT_KEPT_RESULT_BYTES). */
  maxBytes?: number;
}

export class ResultKeeping {
  readonly maxBytes: number;
  private readonly options: ResultKeepingOptions;
  private readonly scripts: RedisScripts;

  constructor(options: ResultKeepingOptions) {
    this.options = options;
    this.maxBytes = options.maxBytes ?? DEFAULT_KEPT_RESULT_BYTES;
    this.scripts = redisScripts(options.redis);
  }

  /**
   * Sends `record` (the sealed result) to replace `claim` at `place` (the caller does not wait for
   * it). Resolves to what a result not kept is told, or undefined when it was kept (or the place
   * held another call's record, left alone); rejects when Redis failed.
   */
  async keep(
    tenant: KeepingTenant,
    place: string,
    claim: string,
    record: string,
  ): Promise<UnkeptResult | undefined> {
    const { prefix, windowMs } = this.options;
    const [status, first, keptBytes] = await this.scripts.idempotencyKeep(
      { place, kept: idempotencyKeptKey(prefix, tenant), totals: idempotencyKeptTotalsKey(prefix, tenant) },
      { claim, record, windowMs, maxBytes: this.maxBytes, entryBytes: KEPT_ENTRY_BYTES },
    );
    if (status !== 0) return undefined;
    return { first: first === 1, keptBytes: keptBytes ?? 0, maxBytes: this.maxBytes };
  }
}
