// Idempotent writes at the router (docs/architecture.md, "One call's path", step 7). The scope is
// tenant, tool and key, the tenant by its id and its record's `createdAt`: a tenant offboarded and
// onboarded again under the same id within the window is not answered with the earlier one's
// results (its runtime, with an empty key table, runs the write). The first call claims the key in
// Redis (SET NX) and stores its result text within its tenant's byte budget (result-keeping.ts;
// past it the result is not kept and a replay reaches the runtime, which answers it from its own
// key table); a replay returns that text parsed, so its JSON is byte for byte the first response
// (the budget `_meta` the rate limiter adds to each call aside, kernel/ratelimit/rate-limiter.ts);
// the same key with other arguments is a `conflict`; a concurrent duplicate waits for the first to
// finish and never runs the tool, and gives its slot at the tenant's concurrency gate back while it
// waits (it reaches no container: a retry storm on one slow write must not shut the tenant's other
// calls out), waiting aside within the gate's bound (call-slot.ts), past which it is answered at
// once; a wait ends as soon as its client cancels or goes away. The tenant runtime keeps its own key
// table in the write's transaction, which covers the case this layer cannot: a crash after the
// commit and before the result reached Redis. Every record is sealed for its tenant and its Redis
// key before it is stored (record-sealing.ts); one that does not open is given back and never
// replayed, and the write runs again into that table.
// Retries are bounded here, at the server, because the callers are agents that retry in loops: each
// failed attempt of a key is counted for the key's window, its `retry_after_ms` doubles with every
// failure (to at most a minute), and once `maxFailures` attempts have failed the next one is
// refused as `permanent` (`retry_limit_exceeded`) without reaching the tenant's container.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { isInputRequired, type ToolAnswer } from '../dispatch/call-relay.ts';
import { idempotencyWindowMs } from '../../kernel/config/common.ts';
import { idempotencyFailuresKey, idempotencyKey } from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';
import type { RecordSealer } from './record-sealing.ts';
import { ResultKeeping, type UnkeptResult } from './result-keeping.ts';

export interface IdempotencyOptions {
  redis: Redis;
  /** Redis key prefix, per installation. */
  prefix: string;
  /**
   * Seals every record for its tenant and place before it is stored, and opens it when read
   * (router/pipeline/record-sealing.ts): Redis never holds a result or an argument digest in clear.
   */
  sealer: RecordSealer;
  /** How long a result is kept for replay (default: the BULKHEAD_IDEMPOTENCY_WINDOW_MS default). */
  windowMs?: number;
  /** Failed attempts of one key before the next is refused (router/config.ts holds the default). */
  maxFailures?: number;
  /**
   * How long a claim lives without being renewed (default 15 s). Its call renews it every third of
   * that while it runs, so a claim whose router died, or whose answer Redis took too long to
   * store, holds a retry back for at most this long, while a live call of any length keeps it.
   */
  claimTtlMs?: number;
  /** How long a concurrent duplicate waits for the first call before it gets `conflict`. */
  waitMs?: number;
  pollMs?: number;
  /**
   * Bytes of results one tenant may keep for replays within the window (result-keeping.ts; default
   * DEFAULT_KEPT_RESULT_BYTES): past it a write is answered, its result not kept.
   */
  maxKeptBytes?: number;
  /** A write's result could not be stored for replays (its answer was not held for it). */
  onUnrecorded?: (scope: IdempotencyScope, error: unknown) => void;
  /** A write's result was not kept, its tenant being at its byte budget (its answer was not held). */
  onUnkept?: (scope: IdempotencyScope, unkept: UnkeptResult) => void;
  /**
   * A key's record did not open (changed in Redis, sealed for another tenant, tool or key, or under
   * another installation secret): it was given back unused, never replayed.
   */
  onUnreadable?: (scope: IdempotencyScope) => void;
}

export interface IdempotencyScope {
  tenant: string;
  /** The tenant record's `createdAt`: which tenant of that id the records are of. */
  tenantCreatedAt: string;
  tool: string;
  key: string;
  /** Digest of the arguments without the key (tool-definition.ts argumentsDigest). */
  digest: string;
}

interface Entry {
  state: 'pending' | 'done';
  digest: string;
  owner?: string;
  result?: string;
}

interface ClaimKeys {
  result: string;
  failures: string;
}

/** A claim on its way to Redis: its keys, its value (with the owner) and Redis's answer. */
interface SentClaim {
  keys: ClaimKeys;
  claim: string;
  reply: Promise<readonly [claimed: string | null, failures: string | null]>;
}

/**
 * The call's slot at its tenant's concurrency gate (kernel/process/concurrency-gate.ts). A call that
 * finds its key held by another call waits for that call's result without reaching a container, so
 * it gives the slot back; should the key come free (the other call failed), it takes one again
 * before it runs.
 */
export interface CallSlot {
  /**
   * Gives the slot back (if the call holds one) to wait aside; false when the tenant has as many
   * calls waiting aside as it may (the call is then answered that its key is in progress).
   */
  leave(): boolean;
  /** Takes a slot again; resolves to the answer to give instead (a refusal), or undefined. */
  retake(): Promise<ToolAnswer | undefined>;
}

/** What IdempotencyStore.run knows of its call besides the key. */
export interface RunOptions {
  /** The claim sent with the call's admission, taken for the first attempt. */
  ahead?: ClaimAhead | undefined;
  slot?: CallSlot | undefined;
  /** Aborted when the call's client cancels or goes away (CallRelay.signal). */
  signal?: AbortSignal | undefined;
}

/** A key's claim sent ahead of its run (IdempotencyStore.claimAhead). */
export interface ClaimAhead {
  readonly scope: IdempotencyScope;
  readonly sent: SentClaim;
}

export const DEFAULT_IDEMPOTENCY_WINDOW_MS = idempotencyWindowMs.schema.parse(undefined);
/** How long an unrenewed claim lives (IdempotencyOptions.claimTtlMs). */
export const DEFAULT_CLAIM_TTL_MS = 15_000;
/** The longest `retry_after_ms` the doubling gives a failing key. */
export const MAX_RETRY_AFTER_MS = 60_000;

function isTransient(result: CallToolResult): boolean {
  const error = (result.structuredContent as { error?: { error_class?: string } } | undefined)?.error;
  return (
    result.isError === true && (error?.error_class === 'transient' || error?.error_class === 'rate_limit')
  );
}

/** A call of a key another call still holds, answered before that call's result came. */
function inProgress(): CallToolResult {
  return toolError('idempotency_in_progress', 'a call with this idempotency key is still running', {
    retry_after_ms: 1_000,
  });
}

export class IdempotencyStore {
  readonly windowMs: number;
  private readonly claimTtlMs: number;
  private readonly options: IdempotencyOptions;
  private readonly scripts: RedisScripts;
  private readonly keeping: ResultKeeping;

  constructor(options: IdempotencyOptions) {
    this.options = options;
    this.scripts = redisScripts(options.redis);
    this.windowMs = options.windowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
    this.claimTtlMs = options.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
    const { redis, prefix, maxKeptBytes } = options;
    this.keeping = new ResultKeeping({ redis, prefix, windowMs: this.windowMs, maxBytes: maxKeptBytes });
  }

  private keys(scope: IdempotencyScope): ClaimKeys {
    const keyHash = createHash('sha256').update(scope.key).digest('base64url');
    const named = { tenant: scope.tenant, tenantCreatedAt: scope.tenantCreatedAt, tool: scope.tool, keyHash };
    return {
      result: idempotencyKey(this.options.prefix, named),
      failures: idempotencyFailuresKey(this.options.prefix, named),
    };
  }

  /**
   * Sends the key's claim now, ahead of its run: a write's admission sends it with its rate-limit
   * take (router/pipeline/call-pipeline.ts), so that the two round trips overlap. Hand it to `run`,
   * or to `abandon` when the call is not run; the claim is what `run` would have sent first.
   */
  claimAhead(scope: IdempotencyScope): ClaimAhead {
    const sent = this.sendClaim(this.keys(scope), scope);
    // Read by run() or abandon(); a failure is theirs to handle, never an unhandled rejection.
    sent.reply.catch(() => undefined);
    return { scope, sent };
  }

  /** Gives back a claim sent ahead for a call that will not run (refused, or never handled). */
  abandon(ahead: ClaimAhead): void {
    const { keys, claim, reply } = ahead.sent;
    reply
      .then(([claimed]) => (claimed === 'OK' ? this.release(keys.result, claim) : undefined))
      .catch(() => undefined); // not released: the claim, never renewed, expires (claimTtlMs)
  }

  /** The claim and the key's failure count, in one round trip: the count costs a write nothing. */
  private sendClaim(keys: ClaimKeys, scope: IdempotencyScope): SentClaim {
    const owner = randomUUID();
    const entry = { state: 'pending', digest: scope.digest, owner } satisfies Entry;
    // Sealed once: the renewals and the release compare this exact text with the stored one.
    const claim = this.options.sealer.seal(scope.tenant, keys.result, JSON.stringify(entry));
    const reply = this.options.redis
      .multi()
      .set(keys.result, claim, 'PX', this.claimTtlMs, 'NX')
      .get(keys.failures)
      .exec()
      .then((replies) => {
        const [[, claimed], [, counted]] = replies as [
          [Error | null, string | null],
          [Error | null, string | null],
        ];
        return [claimed, counted] as const;
      });
    return { keys, claim, reply };
  }

  /**
   * Runs `execute` once per key: claims the key (or takes `ahead`, the claim sent with the call's
   * admission, for the first attempt), or answers from what an earlier call with the key left.
   * `slot`: the call's place at its tenant's concurrency gate, left while it waits for another call
   * of its key and taken again before it runs. `signal`: aborted when the call's client cancels or
   * goes away; a wait for another call of the key then ends at once (a call that runs is not
   * touched: its dispatch has the same signal).
   */
  async run(
    scope: IdempotencyScope,
    execute: () => Promise<ToolAnswer>,
    { ahead, slot, signal }: RunOptions = {},
  ): Promise<ToolAnswer> {
    const keys = ahead?.sent.keys ?? this.keys(scope);
    const redisKey = keys.result;
    const deadline = Date.now() + (this.options.waitMs ?? 30_000);
    let sent = ahead?.sent;
    let unreadable = 0;
    let left = false;
    for (;;) {
      // A wait whose caller went away ends: nobody would read its answer, and it gives its place
      // aside back (the caller's slot, when this returns) and asks Redis nothing more.
      if (left && signal?.aborted) return inProgress();
      const { claim, reply } = sent ?? this.sendClaim(keys, scope);
      sent = undefined;
      const [claimed, counted] = await reply;
      if (claimed === 'OK') {
        if (left && signal?.aborted) {
          await this.release(redisKey, claim); // claimed as its caller went away: not run
          return inProgress();
        }
        const failures = Number(counted ?? 0);
        if (this.options.maxFailures === undefined || failures < this.options.maxFailures) {
          const refused = left && slot ? await this.retakeSlot(redisKey, claim, slot) : undefined;
          return refused ?? this.execute(keys, claim, scope, execute);
        }
        await this.release(redisKey, claim);
        return toolError(
          'retry_limit_exceeded',
          `this write failed ${failures} times with this idempotency key; it is not tried again`,
          { details: { tool: scope.tool, failures, limit: this.options.maxFailures } },
        );
      }
      const raw = await this.options.redis.get(redisKey);
      if (raw === null) continue; // expired or released between the two commands: claim again
      const entry = this.opened(scope, redisKey, raw);
      if (entry === undefined) {
        // Never replayed, nor waited on: given back (only if it is still what was read) and claimed
        // anew. A write it recorded is answered by the tenant runtime's own key table when it runs
        // again, as after a result Redis never stored. Once per call: a record that keeps coming
        // back unreadable is waited out like a running one.
        this.options.onUnreadable?.(scope);
        await this.release(redisKey, raw);
        if (unreadable++ === 0) continue;
      } else if (entry.digest !== scope.digest) {
        return toolError('idempotency_key_reused', 'this idempotency key was used with other arguments', {
          details: { tool: scope.tool },
        });
      } else if (entry.state === 'done' && entry.result !== undefined)
        return JSON.parse(entry.result) as CallToolResult;
      // Another call holds the key: this one waits for its result, and needs no slot meanwhile.
      if (!left && slot?.leave() === false) return inProgress();
      left = true;
      if (Date.now() >= deadline) return inProgress();
      // Rejected only when `signal` aborts, which the next turn answers.
      await sleep(this.options.pollMs ?? 50, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * Takes a slot again for a call that waited for another of its key and then claimed it (the other
   * failed): its claim is renewed while it waits at the gate, and given back when the gate refuses
   * it, whose refusal is then the answer (undefined: the slot is taken, the call runs). The call has
   * not run, so no failure of the key is counted.
   */
  private async retakeSlot(redisKey: string, claim: string, slot: CallSlot): Promise<ToolAnswer | undefined> {
    const renewal = this.renewWhileRunning(redisKey, claim);
    let refused: ToolAnswer | undefined;
    try {
      refused = await slot.retake();
    } catch (error) {
      await this.release(redisKey, claim);
      throw error;
    } finally {
      clearInterval(renewal);
    }
    if (refused) await this.release(redisKey, claim);
    return refused;
  }

  /** The record stored at `redisKey` for this scope's tenant, opened; undefined if it does not open. */
  private opened(scope: IdempotencyScope, redisKey: string, raw: string): Entry | undefined {
    const text = this.options.sealer.open(scope.tenant, redisKey, raw);
    return text === undefined ? undefined : (JSON.parse(text) as Entry);
  }

  /**
   * Keeps our own claim alive while its call runs (kernel/redis/lua/idempotency-renew.lua). A renewal
   * Redis does not answer in time is skipped: two more chances come before the claim would expire.
   */
  private renewWhileRunning(redisKey: string, claim: string): NodeJS.Timeout {
    const timer = setInterval(() => {
      this.scripts
        .idempotencyRenew({ claim: redisKey }, { value: claim, ttlMs: this.claimTtlMs })
        .catch(() => undefined);
    }, this.claimTtlMs / 3);
    timer.unref();
    return timer;
  }

  /** Drops our own claim (kernel/redis/lua/idempotency-release.lua), never one another call took over. */
  private async release(redisKey: string, claim: string): Promise<void> {
    await this.scripts.idempotencyRelease({ claim: redisKey }, { value: claim });
  }

  /** Counts a failed attempt; the caller's wait doubles with each one (at most a minute). */
  private async failed(failuresKey: string, result?: CallToolResult): Promise<CallToolResult | undefined> {
    const [[, count]] = (await this.options.redis
      .multi()
      .incr(failuresKey)
      .pexpire(failuresKey, this.windowMs)
      .exec()) as [[Error | null, number]];
    const error = (result?.structuredContent as { error?: { retry_after_ms?: number } } | undefined)?.error;
    if (!result || !error) return result;
    const base = error.retry_after_ms ?? 1_000;
    const retryAfterMs = Math.min(MAX_RETRY_AFTER_MS, base * 2 ** Math.max(0, count - 1));
    const grown = { ...error, retry_after_ms: retryAfterMs };
    return { ...result, structuredContent: { ...(result.structuredContent ?? {}), error: grown } };
  }

  private async execute(
    keys: ClaimKeys,
    claim: string,
    scope: IdempotencyScope,
    execute: () => Promise<ToolAnswer>,
  ): Promise<ToolAnswer> {
    const redisKey = keys.result;
    let result: ToolAnswer;
    const renewal = this.renewWhileRunning(redisKey, claim);
    try {
      result = await execute();
    } catch (error) {
      clearInterval(renewal);
      await this.release(redisKey, claim);
      await this.failed(keys.failures);
      throw error;
    }
    clearInterval(renewal);
    // Not an answer yet: the client answers the runtime's input requests and retries this round with
    // the same key, which must find the key free again.
    if (isInputRequired(result)) {
      await this.release(redisKey, claim);
      return result;
    }
    // Nothing durable happened on a transient failure (or the runtime will answer from its own key
    // table): let the retry through instead of replaying the failure for 24 hours.
    if (isTransient(result)) {
      await this.release(redisKey, claim);
      return (await this.failed(keys.failures, result)) ?? result;
    }
    const text = JSON.stringify(result);
    const entry = { state: 'done', digest: scope.digest, result: text } satisfies Entry;
    const done = this.options.sealer.seal(scope.tenant, redisKey, JSON.stringify(entry));
    // Sent, not waited for: the answer waits for its audit record instead, which goes out after it
    // on the same connection, so Redis has applied this first (docs/performance-router.md). Kept
    // within the tenant's byte budget, or not kept and the claim given back; should it fail, the
    // claim, no longer renewed, expires. Either way the committed write is answered with its result,
    // and a retry of the key runs again and the runtime answers it from its own key table, as after
    // a router that died here (result-keeping.ts).
    this.keeping
      .keep(scope, redisKey, claim, done)
      .then((unkept) => unkept && this.options.onUnkept?.(scope, unkept))
      .catch((error: unknown) => this.options.onUnrecorded?.(scope, error));
    return JSON.parse(text) as CallToolResult;
  }
}
