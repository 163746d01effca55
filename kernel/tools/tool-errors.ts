// One error shape for every failure an agent sees (docs/architecture.md, "Errors"): the router's
// own refusals and the tenant runtime's tool failures alike. Codes and their classes come from the
// one table in kernel/errors/error-codes.ts.
import type { BulkheadError } from '../errors/bulkhead-error.ts';
import {
  AGENT_ERROR_CLASSES,
  ERROR_CODES,
  type AgentErrorClass,
  type ErrorCode,
} from '../errors/error-codes.ts';

export { AGENT_ERROR_CLASSES as ERROR_CLASSES } from '../errors/error-codes.ts';
export type ToolErrorClass = AgentErrorClass;

export interface StructuredError {
  error_class: ToolErrorClass;
  code: ErrorCode;
  message: string;
  retryable: boolean;
  retry_after_ms?: number;
  details?: unknown;
}

export interface ToolErrorResult {
  [key: string]: unknown;
  isError: true;
  content: { type: 'text'; text: string }[];
  structuredContent: { error: StructuredError };
}

const RETRYABLE: Record<ToolErrorClass, boolean> = {
  validation: false,
  authorization: false,
  rate_limit: true,
  conflict: false,
  transient: true,
  permanent: false,
};

function toolClassOf(code: ErrorCode): ToolErrorClass {
  const errorClass = ERROR_CODES[code].class;
  if (!(AGENT_ERROR_CLASSES as readonly string[]).includes(errorClass)) {
    throw new TypeError(`error code ${code} (${errorClass}) cannot be a tool result`);
  }
  return errorClass as ToolErrorClass;
}

/**
 * The structured errors this process built (toolError): a tenant runtime's answer reaches the
 * router parsed from its JSON and is never one of them, whatever code it names. What the router
 * does only for its own refusals asks this, so that a runtime answering its calls as one of them
 * cannot take them out of the audit trail (router/mcp/repeated-refusals.ts leaves a rate-limit
 * refusal asked again out) nor have them recorded and counted under the router's codes
 * (router/metrics/router-metrics.ts, `errorCodeIn`).
 */
const builtHere = new WeakSet<object>();

/** Whether `structured` is a structured error this process built, not one a runtime sent. */
export function isBuiltHere(structured: unknown): boolean {
  return typeof structured === 'object' && structured !== null && builtHere.has(structured);
}

/** A tool result for a failure: the class is the code's, from the table. */
export function toolError(
  code: ErrorCode,
  message: string,
  extra: { retry_after_ms?: number; details?: unknown } = {},
): ToolErrorResult {
  const errorClass = toolClassOf(code);
  const error: StructuredError = {
    error_class: errorClass,
    code,
    message,
    retryable: RETRYABLE[errorClass],
    ...extra,
  };
  builtHere.add(error);
  return {
    isError: true,
    content: [{ type: 'text', text: `${errorClass}: ${message}` }],
    structuredContent: { error },
  };
}

/** The tool result of a BulkheadError: the one mapping at the tool-result boundary. */
export function toolErrorFor(error: BulkheadError): ToolErrorResult {
  return toolError(error.code, error.message, {
    ...(error.retryAfterMs === undefined ? {} : { retry_after_ms: error.retryAfterMs }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

/** `error` with more fields (a JSON-RPC refusal's data), still one this process built. */
export function extendedError<T extends Record<string, unknown>>(
  error: StructuredError,
  fields: T,
): StructuredError & T {
  const extended = { ...error, ...fields };
  builtHere.add(extended);
  return extended;
}
