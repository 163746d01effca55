// One error shape for every failure an agent sees (docs/architecture.md, "Errors"): the router's
// own refusals and the tenant runtime's tool failures alike.
export const ERROR_CLASSES = [
  'validation',
  'authorization',
  'rate_limit',
  'conflict',
  'transient',
  'permanent',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export interface StructuredError {
  error_class: ErrorClass;
  code: string;
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

const RETRYABLE: Record<ErrorClass, boolean> = {
  validation: false,
  authorization: false,
  rate_limit: true,
  conflict: false,
  transient: true,
  permanent: false,
};

export function toolError(
  errorClass: ErrorClass,
  code: string,
  message: string,
  extra: { retry_after_ms?: number; details?: unknown } = {},
): ToolErrorResult {
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
