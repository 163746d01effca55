// Audit entries of calls that already happened, kept until Redis takes them: the egress gateway's
// record of each upstream request and tunnel (docs/egress.md, "Audit"). An append that fails (Redis
// restarting, out of memory, the connection dropped) does not drop its entry: each tenant's entries
// wait in a queue of their own, in the order they came, and one writer per tenant writes them as
// runs (AuditTrail.appendRun: one script, all or none), retrying the run at its head with a bounded
// backoff, so a later entry never overtakes an earlier one and the chain is the trail's as ever.
// A run whose failure came after Redis wrote it (the answer lost) is looked for before it is
// written again: never twice. Memory is bounded by the caller: past `limit` entries waiting, `full`
// holds and the gateway admits no new call (egress/admission.ts). At close, one last try; what
// Redis did not take is logged, entries and all: the log is then their only record.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { auditStreamKey } from '../redis/keys.ts';
import {
  AuditEventSchema,
  MAX_BATCH,
  type AuditEvent,
  type AuditTrail,
  type RunAttempt,
} from './audit-trail.ts';

/** The first retry's wait; each next one doubles, up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
/** How long close() gives the last try before it logs what is left. */
const LAST_TRY_MS = 5_000;

interface TenantQueue {
  events: AuditEvent[];
  /** How many entries at the head the run being written holds: fixed from its first try on. */
  run: number;
  /** Tries of that run that failed and may have been written all the same. */
  tried: RunAttempt[];
  failures: number;
  /** The tenant's writer while it runs. */
  writer: Promise<void> | undefined;
}

export interface AuditBacklogOptions {
  trail: AuditTrail;
  /** The trail's Redis and prefix: where a retry looks for a run written before. */
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** Entries waiting, every tenant's together, from which on `full` holds. */
  limit: number;
}

export class AuditBacklog {
  private readonly queues = new Map<string, TenantQueue>();
  private readonly stopping = new AbortController();
  private count = 0;
  private closed = false;
  private readonly options: AuditBacklogOptions;

  constructor(options: AuditBacklogOptions) {
    this.options = options;
  }

  /** Entries not yet in Redis: being written or waiting for a retry. */
  get waiting(): number {
    return this.count;
  }

  /** As many entries wait as the bound allows: no new call may go out unaudited. */
  get full(): boolean {
    return this.count >= this.options.limit;
  }

  /** Takes an entry; it is written in the order its tenant's entries came. */
  add(event: AuditEvent): void {
    // Checked here: an entry Redis could never take would hold its tenant's queue for good.
    const parsed = AuditEventSchema.safeParse(event);
    if (!parsed.success) {
      this.options.logger.error({ err: parsed.error, entry: event }, 'audit entry invalid: not written');
      return;
    }
    const { tenant } = parsed.data;
    let queue = this.queues.get(tenant);
    if (!queue) {
      queue = { events: [], run: 0, tried: [], failures: 0, writer: undefined };
      this.queues.set(tenant, queue);
    }
    queue.events.push(parsed.data);
    this.count++;
    if (!queue.writer) queue.writer = this.write(tenant, queue);
  }

  /** Ends the retries with one last try, then logs what Redis did not take (count and entries). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    const writers = [...this.queues.values()].flatMap((q) => (q.writer ? [q.writer] : []));
    const deadline = new AbortController();
    await Promise.race([
      Promise.all(writers),
      sleep(LAST_TRY_MS, undefined, { signal: deadline.signal }).catch(() => undefined),
    ]);
    deadline.abort();
    // A writer still waiting for Redis past the deadline: its entries are logged as not written.
    for (const [tenant, queue] of this.queues) this.giveUp(tenant, queue);
  }

  private async write(tenant: string, queue: TenantQueue): Promise<void> {
    const { logger } = this.options;
    while (queue.events.length > 0) {
      // A retry writes the same run as the try before it, never a longer one: that try may have
      // been written, and it is looked for as it was.
      if (queue.run === 0) queue.run = Math.min(queue.events.length, MAX_BATCH);
      const run = queue.events.slice(0, queue.run);
      try {
        if (!(await this.writtenBefore(tenant, queue)))
          await this.options.trail.appendRun(tenant, run, (attempt) => queue.tried.push(attempt));
      } catch (error) {
        queue.failures++;
        // Logged at the 1st, 2nd, 4th, 8th... failure of a run: an outage is seen, not a flood.
        if ((queue.failures & (queue.failures - 1)) === 0)
          logger.error(
            { err: error, tenant, failures: queue.failures, waiting: this.count },
            'audit append failed: entries kept, retrying',
          );
        if (this.closed) return this.giveUp(tenant, queue);
        const wait = Math.min(RETRY_FIRST_MS * 2 ** (queue.failures - 1), RETRY_MAX_MS);
        await sleep(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        continue;
      }
      // Given up on at close while this run was being written: its entries were logged.
      if (this.queues.get(tenant) !== queue) return;
      queue.events.splice(0, run.length);
      this.count -= run.length;
      queue.run = 0;
      queue.tried = [];
      if (queue.failures > 0) logger.warn({ tenant, failures: queue.failures }, 'audit append recovered');
      queue.failures = 0;
    }
    // Synchronously with the check above: an entry added from now on starts a writer of its own.
    this.queues.delete(tenant);
  }

  /**
   * Whether a failed try of the run at the head is in the trail all the same: its first entry, at
   * its seq, with its hash. Read newest first from the stream's end, a page at a time: entries the
   * router appended after it come before it. A try not found was never written, and cannot be
   * later (each try's script appends only onto the head it was made for), so the tries are cleared.
   */
  private async writtenBefore(tenant: string, queue: TenantQueue): Promise<boolean> {
    if (queue.tried.length === 0) return false;
    const wanted = new Map(queue.tried.map((t) => [t.seq, t.hash]));
    const lowest = Math.min(...wanted.keys());
    const stream = auditStreamKey(this.options.prefix, tenant);
    let end = '+';
    for (;;) {
      const rows = await this.options.redis.xrevrange(stream, end, '-', 'COUNT', MAX_BATCH);
      for (const [, fields] of rows) {
        const entry = JSON.parse(fields[1] ?? '{}') as Partial<RunAttempt>;
        if (entry.seq !== undefined && wanted.get(entry.seq) === entry.hash) return true;
        if (entry.seq === undefined || entry.seq <= lowest) return this.notWritten(queue);
      }
      const last = rows.at(-1);
      // The stream's start, before the lowest try's seq: not written, or written and then sealed
      // away and trimmed already (minutes later: written again then, at least once).
      if (!last || rows.length < MAX_BATCH) return this.notWritten(queue);
      end = `(${last[0]}`;
    }
  }

  private notWritten(queue: TenantQueue): false {
    queue.tried = [];
    return false;
  }

  /** Logs a tenant's entries Redis did not take, loudly and in full: they are in no trail. */
  private giveUp(tenant: string, queue: TenantQueue): void {
    if (this.queues.get(tenant) !== queue) return;
    this.queues.delete(tenant);
    this.count -= queue.events.length;
    if (queue.events.length === 0) return;
    this.options.logger.fatal(
      { tenant, count: queue.events.length, entries: queue.events },
      'audit entries not written at shutdown: this log is their only record',
    );
  }
}
