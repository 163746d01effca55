// A minimal tamper-evident audit trail: one Redis stream per tenant, each entry carrying the SHA-256
// of the previous entry, so that changing, removing or reordering an entry breaks the chain that
// `verify` recomputes. The head hash is stored apart from the stream and moves only together with
// an append (a Lua compare-and-set), so concurrent appenders from several routers stay one chain.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { auditHeadKey, auditStreamKey } from '../redis/keys.ts';
import { redisScripts, type RedisScripts } from '../redis/scripts.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** One call through the egress gateway (egress/): where to, how it went, the bytes each way. */
export const UpstreamCallSchema = z.strictObject({
  host: z.string(),
  port: z.number().int(),
  method: z.string(),
  /** The HTTP status the gateway or the upstream answered (200 for an opened CONNECT tunnel). */
  status: z.number().int(),
  bytes_sent: z.number().int().min(0),
  bytes_received: z.number().int().min(0),
  /** Until the upstream connected (CONNECT) or answered its headers (plain HTTP). */
  latency_ms: z.number().min(0),
  duration_ms: z.number().min(0),
  pack: z.string().nullable(),
  upstream: z.string().nullable(),
});
export type UpstreamCall = z.infer<typeof UpstreamCallSchema>;

export const AuditEventSchema = z.strictObject({
  tenant: z.string(),
  user: z.string().nullable(),
  agent: z.string().nullable(),
  tool: z.string(),
  decision: z.enum(['permit', 'deny']),
  reason: z.string(),
  upstream: UpstreamCallSchema.optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEntrySchema = AuditEventSchema.extend({
  seq: z.number().int().min(1),
  at: z.string(),
  prev: z.string().length(64),
  hash: z.string().length(64),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** What the router needs: one append per decision. */
export interface AuditSink {
  append(event: AuditEvent): Promise<void>;
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  head: string;
  /** The first broken link, when not ok. */
  problem?: string;
}

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const canonical = JSON.stringify(
    Object.fromEntries(Object.entries(entry).sort(([a], [b]) => a.localeCompare(b))),
  );
  return createHash('sha256').update(entry.prev).update('\n').update(canonical).digest('hex');
}

/** Recomputes the chain: each entry's hash, each link to its predecessor, and the stored head. */
export function verifyChain(entries: AuditEntry[], storedHead?: string): ChainCheck {
  let prev = GENESIS_HASH;
  for (const [index, entry] of entries.entries()) {
    const { hash, ...rest } = entry;
    if (entry.prev !== prev)
      return { ok: false, entries: entries.length, head: prev, problem: `entry ${index + 1}: broken link` };
    if (entryHash(rest) !== hash)
      return {
        ok: false,
        entries: entries.length,
        head: prev,
        problem: `entry ${index + 1}: content changed`,
      };
    if (entry.seq !== index + 1)
      return {
        ok: false,
        entries: entries.length,
        head: prev,
        problem: `entry ${index + 1}: out of sequence`,
      };
    prev = hash;
  }
  if (storedHead !== undefined && storedHead !== prev)
    return {
      ok: false,
      entries: entries.length,
      head: prev,
      problem: 'entries missing after the last one read',
    };
  return { ok: true, entries: entries.length, head: prev };
}

export class AuditTrail implements AuditSink {
  private readonly redis: Redis;
  private readonly scripts: RedisScripts;
  private readonly prefix: string;
  private readonly queues = new Map<string, Promise<void>>();

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.scripts = redisScripts(options.redis);
    this.prefix = options.prefix;
  }

  private keys(tenant: string): [string, string] {
    return [auditStreamKey(this.prefix, tenant), auditHeadKey(this.prefix, tenant)];
  }

  /** Appends of one process are queued per tenant, so races are only between processes. */
  append(event: AuditEvent): Promise<void> {
    const previous = this.queues.get(event.tenant) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.appendOnce(event));
    this.queues.set(event.tenant, next);
    const forget = (): void => {
      if (this.queues.get(event.tenant) === next) this.queues.delete(event.tenant);
    };
    next.then(forget, forget);
    return next;
  }

  private async appendOnce(event: AuditEvent): Promise<void> {
    const [stream, headKey] = this.keys(event.tenant);
    // Bounded retries: a lost race means another process appended first; re-read the head and chain on.
    for (let attempt = 0; attempt < 50; attempt++) {
      const state = await this.redis.multi().get(headKey).xlen(stream).exec();
      const prev = (state?.[0]?.[1] as string | null) ?? GENESIS_HASH;
      const length = Number(state?.[1]?.[1] ?? 0);
      const body = { ...AuditEventSchema.parse(event), seq: length + 1, at: new Date().toISOString(), prev };
      const entry: AuditEntry = { ...body, hash: entryHash(body) };
      // kernel/redis/lua/audit-append.lua: appends only if head and length are still as read here.
      const written = await this.scripts.auditAppend(
        { stream, head: headKey },
        {
          expectedHead: prev,
          newHead: entry.hash,
          entry: JSON.stringify(entry),
          expectedLength: length,
          genesis: GENESIS_HASH,
        },
      );
      if (written === 1) return;
      await sleep(Math.random() * 5 * (attempt + 1));
    }
    throw new Error(`audit append for tenant ${event.tenant} kept losing races`);
  }

  async entries(tenant: string): Promise<AuditEntry[]> {
    const rows = await this.redis.xrange(this.keys(tenant)[0], '-', '+');
    return rows.map(([, fields]) => AuditEntrySchema.parse(JSON.parse(fields[1] ?? '{}')));
  }

  async verify(tenant: string): Promise<ChainCheck> {
    const head = await this.redis.get(this.keys(tenant)[1]);
    return verifyChain(await this.entries(tenant), head ?? GENESIS_HASH);
  }

  /** Keep the trail for its retention period after the tenant is gone, then let Redis drop it. */
  async expireAfter(tenant: string, days: number): Promise<void> {
    for (const key of this.keys(tenant)) await this.redis.expire(key, days * 86_400);
  }
}
