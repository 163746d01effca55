// The only supervisor API the router (and the CLI) may use: ask for a tenant runtime through a
// BullMQ job and wait for its endpoint. The caller never touches the Docker socket.
import { Queue, QueueEvents } from 'bullmq';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import type { IsolationReport } from './isolation-report.ts';
import {
  EnsureResult,
  InspectResult,
  RUNTIME_ERROR_CODES,
  RUNTIME_QUEUE,
  VerifyResult,
  type RecycleJob,
  type RuntimeErrorCode,
  type RuntimeStatus,
} from './runtime-jobs.ts';

export interface RuntimeClientOptions {
  redis: RedisConnection;
  /** BullMQ key prefix: one per installation (and per test run). */
  prefix: string;
  timeoutMs?: number;
  onError?: (error: Error) => void;
}

export class RuntimeRequestError extends Error {
  readonly code: RuntimeErrorCode;
  /** Set for `runtime_backoff`: when the circuit lets the next attempt through. */
  readonly retryAfterMs: number | undefined;
  constructor(code: RuntimeErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

function toRuntimeError(error: unknown): RuntimeRequestError {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^([a-z_]+): (.*)$/s.exec(message);
  const code = RUNTIME_ERROR_CODES.find((c) => c === match?.[1]);
  if (code === 'runtime_backoff') {
    const backoff = /^(\d+): (.*)$/s.exec(match?.[2] ?? '');
    return new RuntimeRequestError(code, backoff?.[2] ?? message, Number(backoff?.[1] ?? 5_000));
  }
  return code
    ? new RuntimeRequestError(code, match?.[2] ?? message)
    : new RuntimeRequestError('runtime_failed', message);
}

export class RuntimeClient {
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly timeoutMs: number;

  constructor(options: RuntimeClientOptions) {
    const connection = { ...options.redis, maxRetriesPerRequest: null };
    this.queue = new Queue(RUNTIME_QUEUE, {
      connection,
      prefix: options.prefix,
      defaultJobOptions: {
        removeOnComplete: { age: 300, count: 1000 },
        removeOnFail: { age: 3600, count: 1000 },
      },
    });
    this.events = new QueueEvents(RUNTIME_QUEUE, { connection, prefix: options.prefix });
    this.timeoutMs = options.timeoutMs ?? 60_000;
    // BullMQ reconnects by itself; without listeners its 'error' events would crash the process.
    const onError = options.onError ?? (() => undefined);
    this.queue.on('error', onError);
    // Every job being waited for adds a listener; a burst of first calls waits for dozens at once.
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
    this.events.on('error', onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  async ensure(tenantId: string): Promise<RuntimeEndpoint> {
    return (await this.ensureRuntime(tenantId)).endpoint;
  }

  /** The endpoint and the runtime epoch it was handed out under. */
  async ensureRuntime(tenantId: string): Promise<EnsureResult> {
    return EnsureResult.parse(await this.run('ensure', { tenantId }));
  }

  /**
   * Asks the supervisor to replace the tenant's runtime and returns once the job is queued: the
   * caller (a router answering an agent) does not wait for the drain and the fresh start.
   */
  async requestRecycle(tenantId: string, reason: string): Promise<void> {
    await this.queue.add('recycle', { tenantId, reason, requestedAtMs: Date.now() });
  }

  async remove(tenantId: string, options: { purgeData: boolean }): Promise<void> {
    await this.run('remove', { tenantId, purgeData: options.purgeData });
  }

  async inspect(tenantId: string): Promise<RuntimeStatus | null> {
    return InspectResult.parse(await this.run('inspect', { tenantId })).status;
  }

  /** Replaces the tenant's container (a security event); resolves when the new one serves. */
  async recycle(request: RecycleJob): Promise<void> {
    await this.run('recycle', request);
  }

  /** The isolation evidence report of a tenant's live container (a supervisor job: only it holds Docker). */
  async verify(tenantId: string): Promise<IsolationReport> {
    return VerifyResult.parse(await this.run('verify', { tenantId })).report;
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events.close()]);
  }

  private async run(name: string, data: object): Promise<unknown> {
    const job = await this.queue.add(name, data);
    try {
      return await job.waitUntilFinished(this.events, this.timeoutMs);
    } catch (error) {
      throw toRuntimeError(error);
    }
  }
}
