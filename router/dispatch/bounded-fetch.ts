// Bounds on everything the router reads from a tenant runtime. The tenant's code is hostile: it
// can answer with a body of any size, headers of any size, an endless or dripping stream, or
// garbage. Each read is cut off at a bound (body bytes, header bytes, stream messages, the call's
// deadline) and the breach is reported as a `ReadBoundError`, so the caller fails the call as
// `transient` and treats the breach as a security event instead of reading on.
import { KEEP_ALIVE } from '../../kernel/wire/keep-alive.ts';
import { MAX_RUNTIME_ANSWER_BYTES } from '../../kernel/wire/answer-bounds.ts';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { Agent, Dispatcher } from 'undici';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export interface RuntimeReadBounds {
  /** Largest response body accepted from a runtime, in bytes (see `responseCapFor`). */
  maxResponseBytes: number;
  /** Largest response header block, in bytes. */
  maxHeaderBytes: number;
  /** Most server-sent events in one response stream, notifications included. */
  maxStreamMessages: number;
  /** Longest wait for the response headers, and for each next body chunk. */
  firstByteMs: number;
}

/** Ceiling of the response cap: no manifest bound lets a runtime answer more than this. */
export const DEFAULT_MAX_RESPONSE_BYTES = MAX_RUNTIME_ANSWER_BYTES;

export const DEFAULT_READ_BOUNDS: RuntimeReadBounds = {
  maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
  maxHeaderBytes: 16 * 1024,
  maxStreamMessages: 1_000,
  firstByteMs: 30_000,
};

/**
 * An answer may carry what the tools accept several times over, each result twice (as text and as
 * structured content): 16 times the largest payload bound (512 KiB). A records_list page ends at
 * about 1 MiB of records (RECORDS_PAGE_BYTES in runtime-image/src/records-pack/records-calls.ts).
 */
const RESPONSE_FACTOR = 16;
const MIN_RESPONSE_BYTES = 64 * 1024;

/**
 * The response cap from the manifest's payload bounds: a multiple of the largest argument payload
 * any of the runtime's tools accepts, never below 64 KiB, never above the configured ceiling.
 */
export function responseCapFor(tools: readonly { maxPayloadBytes: number }[], ceiling: number): number {
  const largest = Math.max(0, ...tools.map((tool) => tool.maxPayloadBytes));
  return Math.min(ceiling, Math.max(MIN_RESPONSE_BYTES, RESPONSE_FACTOR * largest));
}

/** The undici options that bound every connection of one tenant route. */
export function boundedAgentOptions(bounds: RuntimeReadBounds): Agent.Options {
  return {
    maxResponseSize: bounds.maxResponseBytes,
    maxHeaderSize: bounds.maxHeaderBytes,
    headersTimeout: bounds.firstByteMs,
    bodyTimeout: bounds.firstByteMs,
    // This side ends idle connections, whatever the runtime's hint (kernel/wire/keep-alive.ts).
    keepAliveTimeout: KEEP_ALIVE.routerIdleMs,
    keepAliveMaxTimeout: KEEP_ALIVE.routerIdleMs,
  };
}

export type BreachKind =
  | 'response_too_large'
  | 'headers_too_large'
  | 'too_many_messages'
  | 'deadline_exceeded'
  | 'malformed_response'
  /** A tool result whose structured content breaks the tool's output schema (runtime-result.ts). */
  | 'output_schema';

/** A runtime's answer broke a read bound: a security event, never a plain failure. */
export class ReadBoundError extends BulkheadError<'read_bound_exceeded'> {
  readonly kind: BreachKind;
  constructor(kind: BreachKind, message: string) {
    super('read_bound_exceeded', message);
    this.kind = kind;
  }
}

/** undici's own bound errors, named as breaches. */
const UNDICI_BREACHES: Record<string, BreachKind> = {
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response_too_large',
  UND_ERR_HEADERS_OVERFLOW: 'headers_too_large',
};

function undiciBreach(error: unknown): BreachKind | undefined {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNDICI_BREACHES[code]) return UNDICI_BREACHES[code];
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Counts server-sent events (an empty line ends one) across chunk boundaries; CR, LF and CRLF
 * all end a line, as the event-stream parser reads them.
 */
class EventCounter {
  private lineLength = 0;
  private afterCr = false;

  feed(chunk: Uint8Array): number {
    let events = 0;
    for (const byte of chunk) {
      if (byte === 0x0a && this.afterCr) {
        this.afterCr = false;
        continue;
      }
      this.afterCr = byte === 0x0d;
      if (byte === 0x0a || byte === 0x0d) {
        if (this.lineLength === 0) events++;
        this.lineLength = 0;
      } else this.lineLength++;
    }
    return events;
  }
}

/**
 * Hands a stream on in whole lines: the SDK's event-stream parser re-scans its pending partial line
 * on every chunk, so one long line in many small chunks would cost quadratic time and garbage.
 */
class LineJoiner {
  private pending: Uint8Array[] = [];

  /** The bytes up to the chunk's last line end (with those held back before), or none yet. */
  push(chunk: Uint8Array): Uint8Array | undefined {
    let end = chunk.length - 1;
    while (end >= 0 && chunk[end] !== 0x0a && chunk[end] !== 0x0d) end--;
    if (end < 0) {
      this.pending.push(chunk);
      return undefined;
    }
    const ready = Buffer.concat([...this.pending, chunk.subarray(0, end + 1)]);
    this.pending = end + 1 < chunk.length ? [chunk.subarray(end + 1)] : [];
    return ready;
  }

  rest(): Uint8Array | undefined {
    const rest = this.pending.length > 0 ? Buffer.concat(this.pending) : undefined;
    this.pending = [];
    return rest;
  }

  /** Forgets what is held back, without copying it (an endless line can hold megabytes). */
  drop(): void {
    this.pending = [];
  }
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Where a bounded body's chunks come from: a web stream's reader, or undici's Node stream. */
interface ChunkSource {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** An answer read with undici's request API: status, content type and the bounded body. */
export interface BoundedAnswer {
  status: number;
  contentType: string;
  /** Null for a status that has no body (its bytes, if any, were dropped). */
  body: ReadableStream<Uint8Array> | null;
}

/**
 * The bounds of one call (or one tool-definition check): every response read through `request` is
 * counted, and `run` ends the work at the first breach or at the deadline, whichever comes first.
 */
export class BoundedReads {
  private readonly bounds: RuntimeReadBounds;
  private readonly deadlineMs: number;
  private rejectEnd: (error: Error) => void = () => undefined;
  private readonly ended: Promise<never>;
  /** Response bodies that started arriving and have not ended: the deadline cuts one mid-answer. */
  private dripping = 0;
  breach: ReadBoundError | undefined;

  constructor(bounds: RuntimeReadBounds, deadlineMs: number) {
    this.bounds = bounds;
    this.deadlineMs = deadlineMs;
    this.ended = new Promise<never>((_resolve, reject) => {
      this.rejectEnd = reject;
    });
    this.ended.catch(() => undefined);
  }

  /** Runs the work until it settles, a bound breaks or the deadline passes. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const timer = setTimeout(() => this.onDeadline(), this.deadlineMs);
    try {
      return await Promise.race([work(), this.ended]);
    } catch (error) {
      // The SDK may surface a breach's side effect (a parse error, an aborted read) first.
      this.noteError(error);
      throw this.breach ?? error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A failure of the work: an answer that is not JSON-RPC (a parse or schema error) is a breach. */
  private noteError(error: unknown): void {
    // The SDK may wrap the parse error (as the `cause` of a negotiation failure, for one).
    let current: unknown = error;
    for (let depth = 0; current instanceof Error && depth < 6; depth++) {
      // By name: the SDK validates with its own copy of zod, so `instanceof` would miss its errors.
      if (current.name === 'SyntaxError' || current.name === 'ZodError') {
        this.fail('malformed_response', `the runtime answered with a malformed message: ${current.message}`);
        return;
      }
      current = current.cause;
    }
  }

  /**
   * Sends with undici's request API: bound errors become breaches, and the body is counted as it
   * arrives.
   */
  async request(send: () => Promise<Dispatcher.ResponseData>): Promise<BoundedAnswer> {
    let response: Dispatcher.ResponseData;
    try {
      response = await send();
    } catch (error) {
      const kind = undiciBreach(error);
      throw kind ? this.fail(kind, `the runtime's answer broke a bound: ${kind}`) : error;
    }
    const { statusCode: status, headers, body } = response;
    const type = headers['content-type'];
    const contentType = (Array.isArray(type) ? type[0] : type) ?? '';
    if (NULL_BODY_STATUS.has(status)) {
      body.destroy();
      return { status, contentType, body: null };
    }
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const source: ChunkSource = {
      read: async () => {
        const next = await chunks.next();
        return next.done ? { done: true } : { done: false, value: next.value };
      },
      cancel: () => {
        body.destroy();
        return Promise.resolve();
      },
    };
    return { status, contentType, body: this.bounded(source, /text\/event-stream/i.test(contentType)) };
  }

  private bounded(reader: ChunkSource, sse: boolean): ReadableStream<Uint8Array> {
    const counter = sse ? new EventCounter() : undefined;
    const lines = sse ? new LineJoiner() : undefined;
    const { maxResponseBytes, maxStreamMessages } = this.bounds;
    let bytes = 0;
    let events = 0;
    let open = false;
    let closing = false;
    const settle = (): void => {
      if (open) this.dripping--;
      open = false;
      // The SDK may hold on to a failed stream: drop what it holds back with it.
      if (!closing) lines?.drop();
    };
    const breach = (): ReadBoundError | undefined =>
      bytes > maxResponseBytes
        ? this.fail('response_too_large', `the runtime's answer exceeded ${maxResponseBytes} bytes`)
        : events > maxStreamMessages
          ? this.fail('too_many_messages', `the runtime's stream exceeded ${maxStreamMessages} messages`)
          : undefined;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            let chunk: Awaited<ReturnType<ChunkSource['read']>>;
            try {
              chunk = await reader.read();
            } catch (error) {
              settle();
              const kind = undiciBreach(error);
              controller.error(kind ? this.fail(kind, `the runtime's answer broke a bound: ${kind}`) : error);
              return;
            }
            if (chunk.done) {
              closing = true;
              settle();
              const rest = lines?.rest();
              if (rest) controller.enqueue(rest);
              controller.close();
              return;
            }
            if (!open && bytes === 0) {
              open = true;
              this.dripping++;
            }
            bytes += chunk.value.byteLength;
            events += counter?.feed(chunk.value) ?? 0;
            const broken = breach();
            if (broken) {
              settle();
              await reader.cancel(broken).catch(() => undefined);
              controller.error(broken);
              return;
            }
            const ready = lines ? lines.push(chunk.value) : chunk.value;
            if (ready) {
              controller.enqueue(ready);
              return;
            }
          }
        },
        cancel: async (reason) => {
          settle();
          await reader.cancel(reason).catch(() => undefined);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Records the first breach and ends `run` with it; returns it for throwing. */
  private fail(kind: BreachKind, message: string): ReadBoundError {
    this.breach ??= new ReadBoundError(kind, message);
    this.rejectEnd(this.breach);
    return this.breach;
  }

  private onDeadline(): void {
    // An answer still arriving at the deadline is a drip (a breach); a runtime that never started
    // answering is only slow or frozen: a plain timeout, and the health monitor deals with it.
    if (this.dripping > 0)
      this.fail('deadline_exceeded', `the runtime was still answering at the ${this.deadlineMs} ms deadline`);
    else this.rejectEnd(new SdkError(SdkErrorCode.RequestTimeout, `no answer within ${this.deadlineMs} ms`));
  }
}
