// Classifies why a call to a tenant runtime failed, which decides whether the router may retry it.
// A write may be retried only when it provably never reached the container: the socket refused
// the connection or did not exist. Once the request was sent (the socket reset or closed
// mid-call, or no answer came in time) the tool may have run, so the caller gets a structured
// `transient` error instead of a second attempt: at most once, never twice. A tampered socket
// (supervisor/client/runtime-socket.ts) was never connected to either, but it is a security event,
// not a missing runtime: the runtime is replaced, and nothing is retried on it.
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { SOCKET_TAMPERED } from '../../supervisor/client/runtime-socket.ts';
import { ReadBoundError } from './bounded-fetch.ts';

/** `bound_exceeded`: the runtime's answer broke a read bound (bounded-fetch.ts), a security event. */
export type CallFailure =
  'not_delivered' | 'tampered' | 'interrupted' | 'timed_out' | 'bound_exceeded' | 'other';

// UND_ERR_CLOSED, UND_ERR_DESTROYED: undici refuses a request on an agent being closed, or closed
// (its close ends in a destroy), before queueing anything (dispatcher-base.js). A route's agent is
// only ever closed, which lets the requests already sent finish first, never destroyed with them
// in flight. A call that took its route just before another call dropped it (the epoch moved,
// tenant-routes.ts) meets one of these: nothing was sent.
// EPIPE: the socket refused the request's write because the runtime had already closed its end of
// the connection, so none of the request's bytes were written, and a runtime reads no partial
// request as a call (every tenant endpoint is a unix socket, where a closed peer refuses the write
// itself). The session sends such a request once more on a new connection (runtime-session.ts);
// refused again, it is not delivered.
const NOT_DELIVERED = new Set([
  'EPIPE',
  'ECONNREFUSED',
  'ENOENT',
  'ENOTSOCK',
  'EACCES',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const INTERRUPTED = new Set([
  'ECONNRESET',
  'UND_ERR_SOCKET',
  'UND_ERR_ABORTED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** The request's write was refused by a connection the runtime had closed: nothing was sent. */
export function writeRefused(error: unknown): boolean {
  return codesOf(error).includes('EPIPE');
}

export function classifyCallFailure(error: unknown): CallFailure {
  if (error instanceof ReadBoundError) return 'bound_exceeded';
  // Redis failed before anything was sent (the state view's touch, the job queue taking an ensure
  // job): its own error codes (a reset Redis connection) say nothing about the runtime.
  if (isBulkheadError(error, 'state_unavailable')) return 'other';
  // The runtime answered with a JSON-RPC error: the connection is fine, and the message may be a
  // pack's own text (a pack's "fetch failed" is not the runtime's socket failing).
  if (error instanceof ProtocolError) return 'other';
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) return 'timed_out';
  if (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed) return 'interrupted';
  const codes = codesOf(error);
  if (codes.includes(SOCKET_TAMPERED)) return 'tampered';
  if (codes.some((c) => NOT_DELIVERED.has(c))) return 'not_delivered';
  if (codes.some((c) => INTERRUPTED.has(c))) return 'interrupted';
  if (error instanceof Error && /fetch failed|other side closed|socket hang up/i.test(error.message))
    return 'interrupted';
  return 'other';
}

/**
 * The runtime could not serve the call: unreachable, crashed mid-call or silent past the timeout.
 * The caller gets a structured `transient` error with `retryAfterMs`; the router never retries a
 * call that may have been delivered (at most once).
 */
export class RuntimeUnavailableError extends BulkheadError<'runtime_unavailable'> {
  declare readonly retryAfterMs: number;
  readonly failure: CallFailure;
  constructor(message: string, options: { retryAfterMs: number; failure: CallFailure }) {
    super('runtime_unavailable', message, { retryAfterMs: options.retryAfterMs });
    this.failure = options.failure;
  }
}

/** A tampered socket has the runtime replaced: the caller retries once the new one serves. */
export function beingReplaced(tenant: string): RuntimeUnavailableError {
  return new RuntimeUnavailableError(`the runtime for ${tenant} is unavailable and being replaced`, {
    retryAfterMs: 2_000,
    failure: 'tampered',
  });
}
