// A minimal tamper-evident audit trail: one Redis stream per tenant, each entry carrying the SHA-256
// of the previous entry, so that changing, removing or reordering an entry breaks the chain that
// `verify` recomputes. The head (seq and hash of the newest entry) is stored apart from the stream and
// moves only together with an append (a Lua compare-and-set), so concurrent appenders from several
// routers stay one chain. The supervisor's sealer (supervisor/audit/audit-sealer.ts) moves entries
// into signed segment files and trims only those from the stream; the chain continues across them.
import { hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { auditAsideKey, auditHeadKey, auditStreamKey, tenantKey } from '../redis/keys.ts';
import { redisScripts, type RedisScripts } from '../redis/scripts.ts';
import { scheduleFlush, type FlushRequest } from '../redis/flush-timing.ts';
import { AuditEventSchema, type AuditEvent } from './audit-record.ts';

export { AuditEventSchema, type AuditEvent };

export const GENESIS_HASH = '0'.repeat(64);

export const AuditEntrySchema = AuditEventSchema.extend({
  seq: z.number().int().min(1),
  at: z.string(),
  prev: z.string().length(64),
  hash: z.string().length(64),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/**
 * What the router needs: one append per decision. `alone`: no other request is likely to share
 * this record's write, so it need not wait for the turn's end (kernel/redis/flush-timing.ts).
 */
export interface AuditSink {
  append(event: AuditEvent, request?: FlushRequest): Promise<void>;
}

export interface ChainCheck {
  ok: boolean;
  entries: number;
  head: string;
  /** The first broken link, when not ok. */
  problem?: string;
}

/**
 * The canonical order of each set of entry fields (sorted with localeCompare, as entries have always
 * been hashed), worked out once per set: records of one kind share theirs, and the schema bounds how
 * many sets there are. The bound below only keeps a malformed stream from growing it.
 */
const fieldOrders = new Map<string, string[]>();
const MAX_FIELD_ORDERS = 256;

function fieldOrder(fields: string[]): string[] {
  const signature = fields.join('\0');
  let order = fieldOrders.get(signature);
  if (!order) {
    order = [...fields].sort((a, b) => a.localeCompare(b));
    if (fieldOrders.size < MAX_FIELD_ORDERS) fieldOrders.set(signature, order);
  }
  return order;
}

/** An entry's fields (all but its hash) as JSON, keys in canonical order: what its hash covers. */
function canonicalEntry(entry: Omit<AuditEntry, 'hash'>): string {
  const fields = entry as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const name of fieldOrder(Object.keys(fields))) sorted[name] = fields[name];
  return JSON.stringify(sorted);
}

/**
 * SHA-256 of the previous hash, a newline and the entry's canonical JSON, hex. The one-shot `hash`
 * over the joined text (the same bytes as three updates of a Hash): no Hash object per entry.
 */
function hashOf(prev: string, canonical: string): string {
  return hash('sha256', `${prev}\n${canonical}`, 'hex');
}

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return hashOf(entry.prev, canonicalEntry(entry));
}

/**
 * The stored JSON of an entry: its canonical JSON with the hash added as the last field (readers
 * parse it; the order of fields in the text is not part of the chain), the JSON made once.
 */
function sealed(body: Omit<AuditEntry, 'hash'>): { hash: string; json: string } {
  const canonical = canonicalEntry(body);
  const hash = hashOf(body.prev, canonical);
  return { hash, json: `${canonical.slice(0, -1)},"hash":${JSON.stringify(hash)}}` };
}

/** Where a run of entries starts: the hash its first entry links to and that entry's seq. */
export interface ChainStart {
  prev: string;
  seq: number;
}

export const CHAIN_ORIGIN: ChainStart = { prev: GENESIS_HASH, seq: 1 };

/**
 * Recomputes the chain from `start`: each entry's hash, each link to its predecessor, consecutive
 * seqs, and the stored head. Problems name the entry by its seq.
 */
export function verifyChain(
  entries: AuditEntry[],
  storedHead?: string,
  start: ChainStart = CHAIN_ORIGIN,
): ChainCheck {
  let prev = start.prev;
  const broken = (problem: string): ChainCheck => ({
    ok: false,
    entries: entries.length,
    head: prev,
    problem,
  });
  for (const [index, entry] of entries.entries()) {
    const { hash, ...rest } = entry;
    const expected = start.seq + index;
    if (entry.seq !== expected) return broken(`entry ${expected}: out of sequence (found seq ${entry.seq})`);
    if (entry.prev !== prev) return broken(`entry ${entry.seq}: broken link`);
    if (entryHash(rest) !== hash) return broken(`entry ${entry.seq}: content changed`);
    prev = hash;
  }
  if (storedHead !== undefined && storedHead !== prev)
    return broken('entries missing after the last one read');
  return { ok: true, entries: entries.length, head: prev };
}

/** The head key holds "<seq>:<hash>" (an installation from before holds the bare hash). */
interface Head {
  /** The stored value, compared as is by the append script. */
  raw: string;
  seq: number;
  hash: string;
}

const EMPTY_HEAD: Head = { raw: `0:${GENESIS_HASH}`, seq: 0, hash: GENESIS_HASH };

function parseHead(raw: string | null, streamLength: number): Head {
  if (raw === null) return EMPTY_HEAD;
  const at = raw.indexOf(':');
  // A bare hash: written before seqs were kept in the head, when the stream was never trimmed.
  if (at < 0) return { raw, seq: streamLength, hash: raw };
  return { raw, seq: Number(raw.slice(0, at)), hash: raw.slice(at + 1) };
}

/** One stream entry as the sealer reads it: the Redis id (to trim by) and the entry. */
export interface StoredEntry {
  id: string;
  entry: AuditEntry;
}

/** Stream rows (id, [field, value]) as entries: the value is the entry's JSON. */
function storedEntries(rows: [string, string[]][]): StoredEntry[] {
  return rows.map(([id, fields]) => ({ id, entry: AuditEntrySchema.parse(JSON.parse(fields[1] ?? '{}')) }));
}

/** At most this many entries in one append script (one batch of a group commit, or one run). */
export const MAX_BATCH = 128;

/** One try at writing a run: its first entry's seq and hash, what a retry looks for before writing. */
export type RunAttempt = Pick<AuditEntry, 'seq' | 'hash'>;

interface Waiting {
  event: AuditEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class AuditTrail implements AuditSink {
  private readonly redis: Redis;
  private readonly scripts: RedisScripts;
  private readonly prefix: string;
  /** Appends waiting for their tenant's writer (drain), per tenant: present while one runs. */
  private readonly waiting = new Map<string, Waiting[]>();
  /** The head this process last wrote per tenant: the next append tries it without reading first. */
  private readonly heads = new Map<string, Head>();

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.scripts = redisScripts(options.redis);
    this.prefix = options.prefix;
  }

  private keys(tenant: string): [string, string] {
    return [auditStreamKey(this.prefix, tenant), auditHeadKey(this.prefix, tenant)];
  }

  /**
   * Group commit: appends of one process are written per tenant in order, and every append that
   * arrives while a batch is being written goes into the next batch, one Redis round trip for all of
   * them. The first batch starts once the event loop has run the I/O callbacks at hand, so calls
   * answered in the same turn share it, or at once for the append of a caller that is alone
   * (kernel/redis/flush-timing.ts). Each caller's promise settles only when its own entry is in
   * Redis (or its batch failed), so an answered call is an audited call; races are only between
   * processes.
   */
  append(event: AuditEvent, request?: FlushRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // An invalid event throws here, which rejects this append alone.
      const parsed = AuditEventSchema.parse(event);
      const waiting = { event: parsed, resolve, reject };
      const queue = this.waiting.get(parsed.tenant);
      // A writer is running for this tenant: it takes this entry in its next batch.
      if (queue) return void queue.push(waiting);
      this.waiting.set(parsed.tenant, [waiting]);
      // With 8 concurrent callers (test/bench/observability-overhead.ts, a loaded machine): about
      // 3.4 entries per round trip at the turn's end, against 2.2 when the writer always started
      // at once; so at once only for a caller that is alone.
      scheduleFlush(() => void this.drain(parsed.tenant), request);
    });
  }

  private async drain(tenant: string): Promise<void> {
    const queue = this.waiting.get(tenant) ?? [];
    for (;;) {
      const batch = queue.splice(0, MAX_BATCH);
      if (batch.length === 0) {
        this.waiting.delete(tenant);
        return;
      }
      try {
        await this.appendRun(
          tenant,
          batch.map((w) => w.event),
        );
        for (const w of batch) w.resolve();
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
  }

  private async readHead(tenant: string): Promise<Head> {
    const [stream, headKey] = this.keys(tenant);
    const state = await this.redis.multi().get(headKey).xlen(stream).exec();
    return parseHead((state?.[0]?.[1] as string | null) ?? null, Number(state?.[1]?.[1] ?? 0));
  }

  /**
   * Writes one tenant's `events` (at most MAX_BATCH, parsed) as one run in one script, in order: all
   * or none. `tried` is told each try's first entry before it is sent, so that a caller retrying a
   * run whose failure may have come after Redis wrote it can look for it first (audit-backlog.ts).
   */
  async appendRun(
    tenant: string,
    events: AuditEvent[],
    tried?: (attempt: RunAttempt) => void,
  ): Promise<void> {
    const [stream, headKey] = this.keys(tenant);
    // One round trip when this process wrote the head last (the usual case with one router); a lost
    // race means another process appended first: chain on from the head the script answered with
    // (bounded retries), one more round trip.
    let head = this.heads.get(tenant) ?? (await this.readHead(tenant));
    for (let attempt = 0; attempt < 50; attempt++) {
      const at = new Date().toISOString();
      const entries: string[] = [];
      let next = head;
      for (const event of events) {
        const body = { ...event, seq: next.seq + 1, at, prev: next.hash };
        const { hash, json } = sealed(body);
        if (next === head) tried?.({ seq: body.seq, hash });
        entries.push(json);
        next = { raw: `${body.seq}:${hash}`, seq: body.seq, hash };
      }
      // kernel/redis/lua/audit-append.lua: appends only if the head is still the one read here.
      const written = await this.scripts.auditAppend(
        { stream, head: headKey },
        {
          expectedHead: head.raw,
          newHead: next.raw,
          entries: JSON.stringify(entries),
          emptyHead: EMPTY_HEAD.raw,
        },
      );
      const [appended, headNow, streamLength] = written;
      // The head this very run would leave: ioredis sent the script again after a reconnect, and
      // the first one had been written (every run's head is its own: its hash covers the chain).
      if (appended === 1 || headNow === next.raw) {
        this.heads.set(tenant, next);
        return;
      }
      // Another process appended first: the script answered with the head it found, to chain on.
      this.heads.delete(tenant);
      if (attempt > 0) await sleep(Math.random() * 5 * attempt);
      head = parseHead(typeof headNow === 'string' ? headNow : null, Number(streamLength ?? 0));
    }
    throw new BulkheadError('state_unavailable', `audit append for tenant ${tenant} kept losing races`);
  }

  /** The entries still in Redis (those not yet sealed), oldest first, at most `count` when given. */
  async stored(tenant: string, count?: number): Promise<StoredEntry[]> {
    const stream = this.keys(tenant)[0];
    const rows =
      count === undefined
        ? await this.redis.xrange(stream, '-', '+')
        : await this.redis.xrange(stream, '-', '+', 'COUNT', count);
    return storedEntries(rows);
  }

  /**
   * The seq the trail in Redis goes on from: its oldest entry's, or the next one's when it holds none
   * (1 when it has no head), read in one MULTI so that an append in between cannot open a gap.
   */
  async firstUnsealed(tenant: string): Promise<number> {
    const [stream, headKey] = this.keys(tenant);
    const state = await this.redis
      .multi()
      .xrange(stream, '-', '+', 'COUNT', 1)
      .get(headKey)
      .xlen(stream)
      .exec();
    const [first] = storedEntries((state?.[0]?.[1] ?? []) as [string, string[]][]);
    const head = parseHead((state?.[1]?.[1] as string | null) ?? null, Number(state?.[2]?.[1] ?? 0));
    return first?.entry.seq ?? head.seq + 1;
  }

  async entries(tenant: string): Promise<AuditEntry[]> {
    return (await this.stored(tenant)).map((s) => s.entry);
  }

  /** Removes exactly the given stream entries (those sealed into a segment). */
  async trim(tenant: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.redis.xdel(this.keys(tenant)[0], ...ids);
  }

  /**
   * Checks the entries still in Redis against the stored head. Entries sealed into segments are gone
   * from the stream; the remainder starts where its first entry says (the segments' own check,
   * `bulkhead audit verify`, covers the link between the last segment and this remainder).
   */
  async verify(tenant: string): Promise<ChainCheck> {
    return (await this.read(tenant)).check;
  }

  /**
   * The entries still in Redis and their check (verify's), read together in one MULTI: the entries
   * and the head checked are the same moment's, and the stream is read once.
   */
  async read(tenant: string): Promise<{ entries: AuditEntry[]; check: ChainCheck }> {
    const [stream, headKey] = this.keys(tenant);
    const state = await this.redis.multi().xrange(stream, '-', '+').get(headKey).xlen(stream).exec();
    const rows = (state?.[0]?.[1] ?? []) as [string, string[]][];
    const entries = storedEntries(rows).map((s) => s.entry);
    const head = parseHead((state?.[1]?.[1] as string | null) ?? null, Number(state?.[2]?.[1] ?? 0));
    const first = entries[0];
    const start = first ? { prev: first.prev, seq: first.seq } : { prev: head.hash, seq: head.seq + 1 };
    return { entries, check: verifyChain(entries, head.hash, start) };
  }

  /**
   * Deletes the trail from Redis if every entry of it is sealed, the last one `sealed` (its seq and
   * hash): offboarding, once the tenant's segments keep it (kernel/redis/lua/audit-close.lua).
   * False when entries are left or one was appended meanwhile: the trail stays.
   */
  async close(tenant: string, sealed: { seq: number; hash: string }): Promise<boolean> {
    const [stream, head] = this.keys(tenant);
    this.heads.delete(tenant);
    const closed = await this.scripts.auditClose(
      { stream, head },
      { sealedHead: `${sealed.seq}:${sealed.hash}` },
    );
    return closed === 1;
  }

  /**
   * Sets aside what an earlier tenant of this id left of its trail in Redis (offboarded without a
   * signing key, or entries appended after its trail was closed), before the id is registered
   * again: the new tenant's chain then starts at seq 1. Kept under the expiry it had, or `days` if
   * it had none (kernel/redis/lua/audit-set-aside.lua). Undefined when nothing was left; refused
   * (`tenant_exists`) once the id has a record again: that tenant's trail is its own.
   */
  async setAside(tenant: string, days: number): Promise<{ entries: number; key: string } | undefined> {
    const [stream, head] = this.keys(tenant);
    const key = auditAsideKey(this.prefix, tenant, Date.now());
    this.heads.delete(tenant);
    const entries = await this.scripts.auditSetAside(
      { stream, head, asideStream: key, asideHead: `${key}:head`, record: tenantKey(this.prefix, tenant) },
      { keepSeconds: days * 86_400 },
    );
    if (entries === -2)
      throw new BulkheadError(
        'tenant_exists',
        `tenant "${tenant}" already exists: its audit trail is its own`,
      );
    return entries < 0 ? undefined : { entries, key };
  }

  /** Keep the trail for its retention period after the tenant is gone, then let Redis drop it. */
  async expireAfter(tenant: string, days: number): Promise<void> {
    for (const key of this.keys(tenant)) await this.redis.expire(key, days * 86_400);
  }
}
