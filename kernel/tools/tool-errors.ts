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
