// One error model: every code sits in one table with its class, and each boundary reads that table
// (a tool result takes the code's class; the CLI its exit code) rather than a list of its own.
import { describe, expect, it } from 'vitest';
import { BulkheadError, exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { ERROR_CLASSES, ERROR_CODES, isErrorCode, type ErrorCode } from '../../kernel/errors/error-codes.ts';
import {
  ERROR_CLASSES as TOOL_ERROR_CLASSES,
  toolError,
  toolErrorFor,
} from '../../kernel/tools/tool-errors.ts';
import { TenantConflictError, TenantNotFoundError } from '../../kernel/registry/tenant-registry.ts';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('the error table', () => {
  it('gives every code a known class, and only HTTP/JSON-RPC/exit values in range', () => {
    for (const code of codes) {
      const row = ERROR_CODES[code] as { class: string; http?: number; jsonRpc?: number; exit?: number };
      expect(ERROR_CLASSES).toContain(row.class);
      if (row.http !== undefined) expect(row.http >= 400 && row.http < 600, code).toBe(true);
      if (row.jsonRpc !== undefined) expect(row.jsonRpc <= -32000 && row.jsonRpc >= -32768, code).toBe(true);
      if (row.exit !== undefined) expect(row.exit >= 2 && row.exit < 126, code).toBe(true);
    }
    expect(isErrorCode('tenant_not_found')).toBe(true);
    expect(isErrorCode('conflict')).toBe(false);
  });
});

describe('the tool-result boundary', () => {
  it("takes the class from the code's row and marks only transient and rate-limit classes retryable", () => {
    for (const code of codes) {
      const errorClass: string = ERROR_CODES[code].class;
      if (!(TOOL_ERROR_CLASSES as readonly string[]).includes(errorClass)) {
        expect(() => toolError(code, 'x')).toThrow(TypeError);
        continue;
      }
      const { error } = toolError(code, 'x').structuredContent;
      expect(error.error_class).toBe(errorClass);
      expect(error.retryable).toBe(errorClass === 'transient' || errorClass === 'rate_limit');
    }
  });

  it('maps a BulkheadError with its retry hint and details', () => {
    const failure = new BulkheadError('runtime_backoff', 'backing off', {
      retryAfterMs: 1500,
      details: { n: 1 },
    });
    expect(toolErrorFor(failure).structuredContent.error).toEqual({
      error_class: 'transient',
      code: 'runtime_backoff',
      message: 'backing off',
      retryable: true,
      retry_after_ms: 1500,
      details: { n: 1 },
    });
  });
});

describe('BulkheadError', () => {
  it('keeps its subclass for instanceof, its name, and the code for isBulkheadError', () => {
    const error = new TenantNotFoundError('no tenant "x"');
    expect(error).toBeInstanceOf(BulkheadError);
    expect(error.name).toBe('TenantNotFoundError');
    expect(isBulkheadError(error, 'tenant_not_found')).toBe(true);
    expect(isBulkheadError(error, 'tenant_exists')).toBe(false);
    expect(isBulkheadError(new Error('plain'))).toBe(false);
  });

  it('gives the CLI exit code of the table, 1 for anything else', () => {
    expect(exitCodeOf(new TenantNotFoundError('x'))).toBe(3);
    expect(exitCodeOf(new TenantConflictError('x'))).toBe(4);
    expect(exitCodeOf(new BulkheadError('runtime_failed', 'x'))).toBe(1);
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
});
