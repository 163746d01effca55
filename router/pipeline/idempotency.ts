// Idempotent writes at the router (docs/architecture.md, "One call's path", step 7). The scope is
// tenant, tool and key. The first call claims the key in Redis (SET NX) and stores its result text; a
// replay returns that text parsed, so its JSON is byte for byte the first response (the budget
// `_meta` the rate limiter adds to each call aside, router/pipeline/rate-limiter.ts); the same key
// with other arguments is a `conflict`; a concurrent duplicate waits for the first to finish and
// never runs the tool. The tenant runtime keeps its own key table in the write's transaction, which
// covers the case this layer cannot: a crash after the commit and before the result reached Redis.
import { createHash, randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Redis } from 'ioredis';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { idempotencyWindowMs } from '../../kernel/config/common.ts';
import { idempotencyKey } from '../../kernel/redis/keys.ts';
import { redisScripts, type RedisScripts } from '../../kernel/redis/scripts.ts';

export interface IdempotencyOptions {
  redis: Redis;
  /** Redis key prefix, per installation. */
  prefix: string;
  /** How long a result is kept for replay (default: the BULKHEAD_IDEMPOTENCY_WINDOW_MS default). */
  windowMs?: number;
  /** How long a claim lives without a result: longer than a tool call may take. */
  claimTtlMs?: number;
  /** How long a concurrent duplicate waits for the first call before it gets `conflict`. */
  waitMs?: number;
  pollMs?: number;
}

export interface IdempotencyScope {
  tenant: string;
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

export const DEFAULT_IDEMPOTENCY_WINDOW_MS = idempotencyWindowMs.schema.parse(undefined);

function isTransient(result: CallToolResult): boolean {
  const error = (result.structuredContent as { error?: { error_class?: string } } | undefined)?.error;
  return (
    result.isError === true && (error?.error_class === 'transient' || error?.error_class === 'rate_limit')
  );
}

export class IdempotencyStore {
  readonly windowMs: number;
  private readonly options: IdempotencyOptions;
  private readonly scripts: RedisScripts;

  constructor(options: IdempotencyOptions) {
    this.options = options;
    this.scripts = redisScripts(options.redis);
    this.windowMs = options.windowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
  }

  private redisKey(scope: IdempotencyScope): string {
    const keyHash = createHash('sha256').update(scope.key).digest('base64url');
    return idempotencyKey(this.options.prefix, { tenant: scope.tenant, tool: scope.tool, keyHash });
  }

  async run(scope: IdempotencyScope, execute: () => Promise<CallToolResult>): Promise<CallToolResult> {
    const redisKey = this.redisKey(scope);
    const deadline = Date.now() + (this.options.waitMs ?? 30_000);
    for (;;) {
      const owner = randomUUID();
      const claim = JSON.stringify({ state: 'pending', digest: scope.digest, owner } satisfies Entry);
      const claimed = await this.options.redis.set(
        redisKey,
        claim,
        'PX',
        this.options.claimTtlMs ?? 90_000,
        'NX',
      );
      if (claimed === 'OK') return this.execute(redisKey, claim, scope, execute);
      const raw = await this.options.redis.get(redisKey);
      if (raw === null) continue; // expired or released between the two commands: claim again
      const entry = JSON.parse(raw) as Entry;
      if (entry.digest !== scope.digest) {
        return toolError('idempotency_key_reused', 'this idempotency key was used with other arguments', {
          details: { tool: scope.tool },
        });
      }
      if (entry.state === 'done' && entry.result !== undefined)
        return JSON.parse(entry.result) as CallToolResult;
      if (Date.now() >= deadline) {
        return toolError('idempotency_in_progress', 'a call with this idempotency key is still running', {
          retry_after_ms: 1_000,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 50));
    }
  }

  /** Drops our own claim (kernel/redis/lua/idempotency-release.lua), never one another call took over. */
  private async release(redisKey: string, claim: string): Promise<void> {
    await this.scripts.idempotencyRelease({ claim: redisKey }, { value: claim });
  }

  private async execute(
    redisKey: string,
    claim: string,
    scope: IdempotencyScope,
    execute: () => Promise<CallToolResult>,
  ): Promise<CallToolResult> {
    let result: CallToolResult;
    try {
      result = await execute();
    } catch (error) {
      await this.release(redisKey, claim);
      throw error;
    }
    // Nothing durable happened on a transient failure (or the runtime will answer from its own key
    // table): let the retry through instead of replaying the failure for 24 hours.
    if (isTransient(result)) {
      await this.release(redisKey, claim);
      return result;
    }
    const text = JSON.stringify(result);
    const done = JSON.stringify({ state: 'done', digest: scope.digest, result: text } satisfies Entry);
    await this.options.redis.set(redisKey, done, 'PX', this.windowMs);
    return JSON.parse(text) as CallToolResult;
  }
}
