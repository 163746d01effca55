// Semantic and safety rules, one test per rule, through the same procedure the router runs before
// dispatch (and the runtime runs again). Every rejection is a structured validation error.
import { describe, expect, it } from 'vitest';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';

const KEY = { idempotency_key: 'unit-key-0001' };

function tool(name: string, version?: string) {
  const def = MANIFEST.find((d) => d.name === name && (version === undefined || d.version === version));
  if (!def) throw new Error(name);
  return def;
}

function rejection(name: string, args: unknown): { code: string; error_class: string; retryable: boolean } {
  const outcome = validateToolArguments(tool(name), args);
  if (outcome.ok) throw new Error(`accepted ${JSON.stringify(args)}`);
  return outcome.error.structuredContent.error;
}

describe('validation before dispatch', () => {
  it('accepts a well-formed write with all optional fields', () => {
    const outcome = validateToolArguments(tool('records_create'), {
      title: 'ok',
      ref: 'INV-2026.01_a',
      quantity: 0,
      start_date: '2026-01-01',
      due_date: '2026-01-01',
      ...KEY,
    });
    expect(outcome.ok).toBe(true);
  });

  it('refuses start_date after due_date (date_order)', () => {
    expect(
      rejection('records_create', { title: 't', start_date: '2026-02-02', due_date: '2026-02-01', ...KEY }),
    ).toEqual(expect.objectContaining({ error_class: 'validation', code: 'date_order', retryable: false }));
  });

  it.each(['9999-12-31', '1899-12-31', '2200-01-01'])('refuses the date %s (date_out_of_range)', (day) => {
    expect(rejection('records_create', { title: 't', due_date: day, ...KEY }).code).toBe('date_out_of_range');
    expect(rejection('records_list', { due_before: day }).code).toBe('date_out_of_range');
  });

  it('refuses a negative quantity (negative_quantity)', () => {
    expect(rejection('records_create', { title: 't', quantity: -1, ...KEY }).code).toBe('negative_quantity');
    expect(rejection('records_update', { id: crypto.randomUUID(), quantity: -5, ...KEY }).code).toBe(
      'negative_quantity',
    );
  });

  it('applies the item rules to every item of a bulk write, with the index in the path', () => {
    const outcome = validateToolArguments(tool('records_bulk_create'), {
      items: [{ title: 'fine' }, { title: 'bad', quantity: -3 }],
      ...KEY,
    });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok)
      expect(outcome.error.structuredContent.error.details).toEqual([
        expect.objectContaining({ path: 'items.1.quantity', code: 'negative_quantity' }),
      ]);
  });

  it.each(['../../../etc/passwd', '..', 'a/../../b', '..\\windows\\system32', '%2e%2e%2fetc', '/etc/shadow'])(
    'refuses the traversal %j in a value that names a file (path_traversal)',
    (ref) => {
      expect(rejection('records_create', { title: 't', ref, ...KEY }).code).toBe('path_traversal');
      expect(rejection('docs_search', { query: 'errors', doc: ref }).code).toBe('path_traversal');
    },
  );

  it.each(['x; rm -rf ~', '$(id)', '`id`', 'a|b', 'a b', '-rf', "x' OR '1'='1", 'a&&b', '.hidden'])(
    'refuses the injection %j in a value that may reach a path or subprocess (unsafe_characters)',
    (ref) => {
      expect(rejection('records_create', { title: 't', ref, ...KEY }).code).toBe('unsafe_characters');
    },
  );

  it('refuses control characters and bidi overrides in any string', () => {
    expect(rejection('records_create', { title: 'a\u0000b', ...KEY }).code).toBe('unsafe_characters');
    expect(rejection('records_create', { title: 'invoice\u202Etxt.exe', ...KEY }).code).toBe(
      'unsafe_characters',
    );
    expect(validateToolArguments(tool('records_create'), { title: 'two\nlines\ttab', ...KEY }).ok).toBe(true);
  });

  it('refuses unknown fields, missing keys, bad ids, out-of-bound sizes and oversized payloads', () => {
    expect(rejection('records_create', { title: 't', extra: 1, ...KEY }).code).toBe('invalid_arguments');
    expect(rejection('records_create', { title: 't' }).code).toBe('invalid_arguments');
    expect(rejection('records_create', { title: 't', idempotency_key: 'short' }).code).toBe(
      'invalid_arguments',
    );
    expect(rejection('records_get', { id: '1 OR 1=1' }).code).toBe('invalid_arguments');
    expect(rejection('records_create', { title: 'x'.repeat(201), ...KEY }).code).toBe('invalid_arguments');
    expect(rejection('records_list', { limit: 101 }).code).toBe('invalid_arguments');
    expect(rejection('records_create', { title: 't', body: 'x'.repeat(40_000), ...KEY }).code).toBe(
      'payload_too_large',
    );
    expect(rejection('whoami', { anything: true }).code).toBe('invalid_arguments');
  });

  it('keeps the deprecated records_list 1.0.0 to its own, narrower schema', () => {
    const v1 = validateToolArguments(tool('records_list', '1.0.0'), { due_before: '2026-01-01' });
    expect(v1.ok).toBe(false);
    expect(validateToolArguments(tool('records_list', '1.1.0'), { due_before: '2026-01-01' }).ok).toBe(true);
  });
});
