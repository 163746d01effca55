// The one error base of Bulkhead (in the style of jose's errors): a code from the closed table in
// error-codes.ts, an optional retry hint and details. Subclasses exist where callers need to catch
// one kind by class (`instanceof TenantNotFoundError`); each fixes its code.
import { ERROR_CODES, type ErrorClass, type ErrorCode } from './error-codes.ts';

export interface BulkheadErrorOptions {
  cause?: unknown;
  /** When a retry may succeed (transient and rate-limit failures). */
  retryAfterMs?: number;
  /** Structured, non-sensitive facts for the caller (field paths, limits). */
  details?: unknown;
}

export class BulkheadError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(code: C, message: string, options: BulkheadErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }

  /** The class of this error's code (what the agent may do about it). */
  get errorClass(): ErrorClass {
    return ERROR_CODES[this.code].class;
  }
}

/** Whether `error` is a BulkheadError, optionally with one of the given codes. */
export function isBulkheadError<C extends ErrorCode>(
  error: unknown,
  ...codes: C[]
): error is BulkheadError<C> {
  return error instanceof BulkheadError && (codes.length === 0 || codes.includes(error.code as C));
}

/** The message of anything thrown: an Error's own, anything else as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The CLI exit code of any error: its row's, 1 for the rest. */
export function exitCodeOf(error: unknown): number {
  return error instanceof BulkheadError
    ? ((ERROR_CODES[error.code as ErrorCode] as { exit?: number }).exit ?? 1)
    : 1;
}
