// Requests the router sends to a 2025-era client in the middle of a call (elicitation, sampling),
// on the stream of the POST that carries the call, and the client's answers. A 2025 client answers
// with a POST of its own, which the router's per-request servers cannot match to the request they
// sent (each POST gets a fresh server), so the router keeps the open questions here, keyed by an id
// of its own, and the endpoint hands every JSON-RPC response POST of the same session to `deliver`.
// The questions live in this process: the answer must reach the router that asked (one router, or
// sticky sessions); a 2026-07-28 client needs neither (its answers come with the retried request).
// A 2025 client's cancellation is the same kind of message: a `notifications/cancelled` POST of its
// own, naming a request another POST carries, so the server that receives it has no such request
// and the SDK drops it. The requests of 2025 sessions in flight are kept here too (`during`), and
// the endpoint hands each cancellation of a session to `cancel`, which aborts the one it names
// there, in this process (as the questions: one router, or sticky sessions). Before, a cancelled
// request went on: the runtime's exchange stayed open until the call deadline (its pack never told),
// and the runtime's notifications and questions kept coming to a client that had given it up.
import { randomUUID } from 'node:crypto';
import type { Server, ServerContext } from '@modelcontextprotocol/server';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

interface Question {
  session: string;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A JSON-RPC response as a client POSTs it. */
interface ClientAnswer {
  id: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

export interface AskOptions {
  server: Server;
  session: string;
  /** The call the question belongs to: the transport sends it on that call's stream. */
  relatedRequestId: string | number;
  request: { method: string; params?: Record<string, unknown> };
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** A 2025 client's `notifications/cancelled`, as it POSTs it. */
interface Cancellation {
  method: 'notifications/cancelled';
  params: { requestId: string | number };
}

export class ClientRequests {
  readonly #open = new Map<string, Question>();
  /** The requests of 2025 sessions in flight, by session and request id (`callKey`). */
  readonly #calls = new Map<string, Set<AbortController>>();

  /**
   * Runs the handling of request `id` of `session` (a 2025 session; undefined: none, run as it is)
   * with a signal aborted when the SDK aborts `signal` or the session's client cancels the request.
   */
  async during<T>(
    call: { session: string | undefined; id: string | number; signal: AbortSignal },
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (call.session === undefined) return run(call.signal);
    const key = callKey(call.session, call.id);
    const cancelled = new AbortController();
    // The SDK's abort forwarded by a listener, not AbortSignal.any: that one costs about 10 µs a
    // call, this about 1 (every 2025 call passes here).
    const forward = (): void => cancelled.abort(call.signal.reason);
    if (call.signal.aborted) forward();
    else call.signal.addEventListener('abort', forward, { once: true });
    const calls = this.#calls.get(key) ?? new Set();
    calls.add(cancelled);
    this.#calls.set(key, calls);
    try {
      return await run(cancelled.signal);
    } finally {
      call.signal.removeEventListener('abort', forward);
      calls.delete(cancelled);
      if (calls.size === 0 && this.#calls.get(key) === calls) this.#calls.delete(key);
    }
  }

  /** Aborts the request of `session` a cancellation names; false when the message is none, or names none here. */
  cancel(session: string, message: unknown): boolean {
    if (!isCancellation(message)) return false;
    const calls = this.#calls.get(callKey(session, message.params.requestId));
    if (!calls) return false;
    for (const call of calls) call.abort(new Error('the client cancelled the request'));
    return true;
  }

  /** Sends the request to the client and waits for its answer (or the deadline, or cancellation). */
  async ask(options: AskOptions): Promise<Record<string, unknown>> {
    const transport = options.server.transport;
    if (!transport) throw new Error('the server has no transport to ask the client on');
    const id = `bulkhead-${randomUUID()}`;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#open.set(id, { session: options.session, resolve, reject });
    });
    const timer = setTimeout(() => this.#fail(id, 'the client did not answer in time'), options.timeoutMs);
    const onAbort = (): void => this.#fail(id, 'the call was cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await transport.send(
        { jsonrpc: '2.0', id, method: options.request.method, params: options.request.params ?? {} },
        { relatedRequestId: options.relatedRequestId },
      );
      return await answer;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      this.#open.delete(id);
    }
  }

  /** Hands a client's JSON-RPC response to the question it answers; false when it answers none here. */
  deliver(session: string, message: unknown): boolean {
    const answer = message as ClientAnswer;
    if (typeof answer.id !== 'string') return false;
    const question = this.#open.get(answer.id);
    // Only the session that was asked may answer: another principal's POST cannot.
    if (!question || question.session !== session) return false;
    this.#open.delete(answer.id);
    if (answer.error !== undefined) {
      question.reject(
        new BulkheadError('client_input_failed', `the client refused: ${String(answer.error.message)}`),
      );
    } else if (typeof answer.result === 'object' && answer.result !== null) {
      question.resolve(answer.result as Record<string, unknown>);
    } else {
      question.reject(new BulkheadError('client_input_failed', 'the client answered without a result'));
    }
    return true;
  }

  #fail(id: string, why: string): void {
    const question = this.#open.get(id);
    if (!question) return;
    this.#open.delete(id);
    question.reject(new BulkheadError('client_input_failed', why));
  }
}

/** The 2025 session a request belongs to (its `Mcp-Session-Id`); a 2026-07-28 request has none. */
export function sessionOf(ctx: ServerContext): string | undefined {
  return ctx.http?.req?.headers.get('mcp-session-id') ?? undefined;
}

/** A request of a session: the session's client names it by its id (a string 1 is not the number 1). */
function callKey(session: string, id: string | number): string {
  return JSON.stringify([session, id]);
}

function isCancellation(body: unknown): body is Cancellation {
  const message = body as { method?: unknown; params?: { requestId?: unknown } } | null;
  const id = message?.params?.requestId;
  return message?.method === 'notifications/cancelled' && (typeof id === 'string' || typeof id === 'number');
}

/** Whether a POSTed body is a JSON-RPC response (a client's answer), not a request. */
export function isClientAnswer(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const message = body as Record<string, unknown>;
  return message.method === undefined && 'id' in message && ('result' in message || 'error' in message);
}
