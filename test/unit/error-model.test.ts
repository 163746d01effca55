// One error model: every code sits in one table with its class, and each boundary reads that table
// (a tool result takes the code's class; the CLI its exit code; the runtime its HTTP status; a
// runtime job's refusal its code) rather than a list of its own. Every error class of the
// production code is a BulkheadError with a code of the table.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BulkheadError,
  errorMessage,
  exitCodeOf,
  isBulkheadError,
} from '../../kernel/errors/bulkhead-error.ts';
import { ERROR_CLASSES, ERROR_CODES, isErrorCode, type ErrorCode } from '../../kernel/errors/error-codes.ts';
import {
  ERROR_CLASSES as TOOL_ERROR_CLASSES,
  toolError,
  toolErrorFor,
} from '../../kernel/tools/tool-errors.ts';
import { TenantConflictError, TenantNotFoundError } from '../../kernel/registry/tenant-registry.ts';
import { DevIdpRequestError } from '../../dev/idp/idp-http.ts';
import { AssertionRejected } from '../../runtime-image/src/assertion-verifier.ts';
import { RuntimeRequestError } from '../../supervisor/client/runtime-client.ts';
import { JOB_FAILURE_CODES, JobFailure, RemoveOutcome } from '../../supervisor/client/runtime-jobs.ts';

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

  it("reads the message of anything thrown: an Error's own, anything else as a string", () => {
    expect(errorMessage(new TenantNotFoundError('no tenant "x"'))).toBe('no tenant "x"');
    expect(errorMessage('refused')).toBe('refused');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});

// Every error class of the production code, found by reading the sources: a class joins the error
// model by extending BulkheadError (directly or through another such class) with a code of the table.
const PRODUCTION_ROOTS = ['kernel', 'router', 'supervisor', 'tenants', 'dev', 'runtime-image/src'];
/** Classes whose code is a type naming several codes: those codes, as the module exports them. */
const CODES_BY_TYPE: Record<string, readonly string[]> = { RuntimeRequestError: JOB_FAILURE_CODES };
/**
 * Classes still on plain Error while this change moves the rooms onto the one base (each is its
 * room's to move): remove a name once its class extends BulkheadError; the list ends empty.
 */

interface ClassDecl {
  file: string;
  name: string;
  base: string;
  exported: boolean;
  codes: string[];
}

function sourceFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => join(root, path));
}

function classDeclarations(): ClassDecl[] {
  const found: ClassDecl[] = [];
  for (const file of PRODUCTION_ROOTS.flatMap(sourceFiles)) {
    const text = readFileSync(file, 'utf8');
    const constants = new Map(
      [...text.matchAll(/const (\w+) = '([a-z_]+)'/g)].map(([, name, value]) => [name!, value!]),
    );
    const declaration = /^(export )?class (\w+) extends (\w+)(?:<(.*?)>)? \{(\})?$/gm;
    for (const match of text.matchAll(declaration)) {
      const [line, exported, name, base, typeArgument = '', empty] = match;
      const body = empty ? line : text.slice(match.index, text.indexOf('\n}', match.index));
      // The code as a literal or a constant of the file, in the type argument or the super call.
      const named = [
        ...typeArgument.matchAll(/'([a-z_]+)'|typeof (\w+)/g),
        ...body.matchAll(/super\(\s*(?:'([a-z_]+)'|(\w+),)/g),
      ].map(([, literal, constant]) => literal ?? constants.get(constant!));
      const codes = [...new Set(named.filter((code) => code !== undefined))];
      found.push({ file, name: name!, base: base!, exported: exported !== undefined, codes });
    }
  }
  return found;
}

const declarations = classDeclarations();
const errorModelClasses = (() => {
  const family = new Set(['BulkheadError']);
  for (let grew = true; grew;) {
    grew = false;
    for (const decl of declarations) {
      if (family.has(decl.base) && !family.has(decl.name)) {
        family.add(decl.name);
        grew = true;
      }
    }
  }
  return declarations.filter((decl) => family.has(decl.name));
})();

describe('the error classes of the production code', () => {
  it('finds the classes the scan is meant to find', () => {
    const names = errorModelClasses.map((decl) => decl.name);
    for (const name of ['TenantNotFoundError', 'RuntimeRequestError', 'AssertionRejected', 'BodyTooLarge'])
      expect(names).toContain(name);
  });

  it('gives every BulkheadError subclass codes of the table, and nothing else', () => {
    for (const decl of errorModelClasses) {
      const codes = decl.codes.length > 0 ? decl.codes : CODES_BY_TYPE[decl.name];
      expect(codes, `${decl.name} (${decl.file}): name its code as a literal`).toBeDefined();
      for (const code of codes ?? []) expect(isErrorCode(code), `${decl.name}: ${code}`).toBe(true);
    }
  });

  it('exports BulkheadError subclasses that are BulkheadErrors at run time too', async () => {
    for (const decl of errorModelClasses.filter((d) => d.exported && d.name !== 'BulkheadError')) {
      const module = (await import(`../../${decl.file}`)) as Record<string, unknown>;
      const cls = module[decl.name] as { prototype: unknown } | undefined;
      expect(cls?.prototype instanceof BulkheadError, `${decl.name} in ${decl.file}`).toBe(true);
    }
  });

  it('leaves no class on plain Error outside the error model', () => {
    const onError = declarations.filter(
      (decl) => decl.base === 'Error' && !decl.file.startsWith(join('kernel', 'errors')),
    );
    expect(onError).toEqual([]);
  });
});

describe('the BullMQ boundary', () => {
  it('refuses jobs only with codes of the table', () => {
    for (const code of JOB_FAILURE_CODES) expect(isErrorCode(code), code).toBe(true);
  });

  it('parses an outcome into its value or its refusal, and nothing else', () => {
    const refusal = { code: 'runtime_backoff', message: 'crash-looping', retryAfterMs: 1500 };
    expect(RemoveOutcome.parse({ ok: true, value: {} })).toEqual({ ok: true, value: {} });
    expect(RemoveOutcome.parse({ ok: false, error: refusal })).toEqual({ ok: false, error: refusal });
    expect(JobFailure.safeParse({ code: 'tenant_exists', message: 'x' }).success).toBe(false);
    expect(JobFailure.safeParse({ ...refusal, retryAfterMs: -1 }).success).toBe(false);
    expect(RemoveOutcome.safeParse('runtime_backoff: 1500: crash-looping').success).toBe(false);
    expect(RemoveOutcome.safeParse({ ok: true, value: { extra: 1 } }).success).toBe(false);
  });

  it('raises a refusal as a RuntimeRequestError with its class and retry hint', () => {
    const error = new RuntimeRequestError('runtime_backoff', 'crash-looping', { retryAfterMs: 1500 });
    expect(isBulkheadError(error, 'runtime_backoff')).toBe(true);
    expect(toolErrorFor(error).structuredContent.error).toMatchObject({
      error_class: 'transient',
      retry_after_ms: 1500,
    });
  });
});

describe('the tenant runtime and the development IdP', () => {
  it('answers a refused call with the status of its code', () => {
    const rejected = new AssertionRejected('missing call assertion');
    expect(ERROR_CODES[rejected.code].http).toBe(401);
    expect(ERROR_CODES.body_too_large.http).toBe(413);
  });

  it('keeps the status and OAuth error of an IdP refusal on a BulkheadError', () => {
    const error = new DevIdpRequestError({ operation: 'token', status: 400, error: 'invalid_grant' });
    expect(isBulkheadError(error, 'idp_request_failed')).toBe(true);
    expect(error).toMatchObject({ status: 400, error: 'invalid_grant', name: 'DevIdpRequestError' });
    expect(error.message).toBe('token failed with HTTP 400 (invalid_grant)');
  });
});
