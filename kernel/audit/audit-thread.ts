// The router's audit sink: the same trail (audit-trail.ts: the chained hash, the group commit, the
// compare-and-set script), appended by a worker thread of the router's process with a Redis
// connection of its own, so that a call's record costs the event loop that serves calls one message
// out and one back instead of the hashing, the JSON and a Redis exchange. An append still settles
// only once its entry is in Redis (the worker acknowledges it after the trail's own append
// resolved), so an answered call is still an audited call; appends are written in the order they
// were made (one worker, its messages in order). Why a thread and what it saves: docs/observability.md.
import { Worker } from 'node:worker_threads';
import type { RedisOptions } from 'ioredis';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { isErrorCode } from '../errors/error-codes.ts';
import { AuditEventSchema, type AuditEvent, type AuditSink } from './audit-trail.ts';

/** What the worker is started with (audit-thread-worker.ts). */
export interface AuditThreadData {
  /** Plain connection options (they are copied to the worker): host, port, TLS, user, deadlines. */
  redis: RedisOptions;
  prefix: string;
}

/** One append sent to the worker: its id and the (already checked) event. */
export type AppendMessage = [id: number, event: AuditEvent][];

/** What the worker answers: appends done (error undefined) or failed, and its connection's errors. */
export type WorkerMessage =
  { acks: [id: number, error?: { code?: string; message: string }][] } | { redisError: string };

export interface AuditThreadOptions extends AuditThreadData {
  /** Told of the worker's Redis connection errors and of a worker that stopped. */
  onProblem?: (message: string, error?: unknown) => void;
}

interface Pending {
  resolve: () => void;
  reject: (error: unknown) => void;
}

const WORKER = new URL('./audit-thread-worker.ts', import.meta.url);

function errorOf(sent: { code?: string; message: string }): Error {
  return sent.code !== undefined && isErrorCode(sent.code)
    ? new BulkheadError(sent.code, sent.message)
    : new Error(sent.message);
}

export class AuditThread implements AuditSink {
  private readonly options: AuditThreadOptions;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Appends of this turn, posted together once its I/O callbacks have run. */
  private outbox: AppendMessage = [];
  private closed = false;

  constructor(options: AuditThreadOptions) {
    this.options = options;
  }

  /** The running worker, started on first use and again after one stopped. */
  private workerNow(): Worker {
    if (this.worker) return this.worker;
    const { redis, prefix } = this.options;
    const worker = new Worker(WORKER, { workerData: { redis, prefix } satisfies AuditThreadData });
    // It never keeps the process alive by itself: a router that closes ends it (close()).
    worker.unref();
    worker.on('message', (message: WorkerMessage) => {
      if ('redisError' in message) return this.options.onProblem?.(message.redisError);
      for (const [id, error] of message.acks) {
        const waiting = this.pending.get(id);
        this.pending.delete(id);
        if (error === undefined) waiting?.resolve();
        else waiting?.reject(errorOf(error));
      }
    });
    const stopped = (error?: unknown): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (!this.closed) this.options.onProblem?.('audit worker stopped', error);
      // Whatever it had not acknowledged is unknown: each caller logs its record in full.
      const lost = new BulkheadError('state_unavailable', 'the audit worker stopped before confirming');
      for (const waiting of this.pending.values()) waiting.reject(lost);
      this.pending.clear();
    };
    worker.on('error', stopped);
    worker.on('exit', () => stopped());
    this.worker = worker;
    return worker;
  }

  append(event: AuditEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) throw new BulkheadError('state_unavailable', 'the audit trail is closed');
      // Checked here: an invalid event is refused alone, and only plain data crosses to the worker.
      const parsed = AuditEventSchema.parse(event);
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (this.outbox.push([id, parsed]) === 1) setImmediate(() => this.post());
    });
  }

  private post(): void {
    const batch = this.outbox;
    this.outbox = [];
    try {
      this.workerNow().postMessage(batch);
    } catch (error) {
      for (const [id] of batch) {
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      }
    }
  }

  /** Waits (at most `timeoutMs`) for the appends made so far, then ends the worker. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.outbox.length > 0) && this.worker && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    await this.worker?.terminate();
  }
}
