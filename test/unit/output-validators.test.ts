// The pack clients' output schema validators (runtime-image/src/packs/output-validators.ts) and the
// reference pack's validators compiled by the image build (runtime-image/src/packs/reference-validators.ts):
// every schema the pack lists has one, each gives the verdict and the errors the SDK's own provider
// gives, a client is handed it for an equal schema (its listing's own objects, keys reordered), and any
// other schema is compiled as before, a broken one failing where the client asks for it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonSchemaType } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { canonicalJson } from '../../kernel/tools/tool-definition.ts';
import { loadPrecompiled, OutputValidators } from '../../runtime-image/src/packs/output-validators.ts';
import { referenceValidatorsSource } from '../../runtime-image/src/packs/reference-validators.ts';
import { RECORDS_WIRE } from '../../runtime-image/src/records-pack/records-calls.ts';

const ID = '0b9f6a4e-8a2b-4c1d-9e3f-1a2b3c4d5e6f';
const RECORD = {
  id: ID,
  title: 'hello',
  body: 'a body',
  tags: ['a', 'b.c'],
  ref: null,
  quantity: 3,
  start_date: null,
  due_date: '2026-12-01',
  createdAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:00.000Z',
  createdBy: 'agent:a1',
};
/** Answers each valid for some of the records tools and not for the others. */
const ANSWERS: unknown[] = [
  { record: RECORD },
  { records: [RECORD, { ...RECORD, id: ID.replace('0b', '1c') }] },
  { deleted: ID },
  {
    status: 'ok',
    total: 1,
    succeeded: 1,
    failed: 0,
    results: [{ index: 0, status: 'created', record: RECORD }],
  },
  { record: { ...RECORD, id: 'not-a-uuid' } },
  { record: { ...RECORD, title: '' } },
  { record: { ...RECORD, extra: true } },
  { record: { ...RECORD, quantity: 'many' } },
  { records: [{ ...RECORD, tags: ['no spaces allowed'] }] },
  { deleted: 42 },
  { status: 'maybe', total: 1 },
  {},
  'text',
];

const schemas = RECORDS_WIRE.map((tool) => tool.outputSchema as JsonSchemaType);

/** The same schema with every object's keys in reverse order: a client's parse reorders some. */
function reordered<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(reordered) as T;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reordered(v)]),
  ) as T;
}

/** Ajv's error list as a set: the order of its entries follows the order of the schema's keys. */
const errorSet = (message: string | undefined): string[] => (message ?? '').split(', ').sort();
let dir: string;
let file: URL;

beforeAll(async () => {
  // Inside the repository, so that the generated code finds Ajv's runtime helpers as the build's bundler does.
  await mkdir(join(import.meta.dirname, '../../.cache'), { recursive: true });
  dir = await mkdtemp(join(import.meta.dirname, '../../.cache/validators-'));
  file = pathToFileURL(join(dir, 'reference-validators.cjs'));
  await writeFile(file, referenceValidatorsSource());
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the reference pack's precompiled validators", () => {
  it('cover every output schema the pack lists, by its canonical JSON', () => {
    const precompiled = loadPrecompiled(file);
    for (const schema of schemas) expect(precompiled.has(canonicalJson(reordered(schema)))).toBe(true);
  });

  it("give the verdict and the errors of the SDK's own provider, answer by answer", () => {
    const sdk = new AjvJsonSchemaValidator();
    const ours = new OutputValidators({ precompiled: () => loadPrecompiled(file) });
    let refused = 0;
    for (const schema of schemas) {
      // The client asks with its listing's own objects: equal to the built ones, keys reordered.
      const listed = reordered(schema);
      const expected = sdk.getValidator(listed);
      const actual = ours.getValidator(listed);
      for (const answer of ANSWERS) {
        const [want, got] = [expected(answer), actual(answer)];
        expect(got.valid, JSON.stringify(answer)).toBe(want.valid);
        expect(got.data).toEqual(want.data);
        expect(errorSet(got.errorMessage)).toEqual(errorSet(want.errorMessage));
        if (!want.valid) refused++;
      }
    }
    expect(refused).toBeGreaterThan(ANSWERS.length * 2);
  });

  it('are what a client is handed for a listed schema; nothing is compiled for it', () => {
    const marker = Object.assign(() => false, {
      errors: [{ instancePath: '/x', message: 'from the build' }],
    });
    const listed = schemas[0]!;
    const ours = new OutputValidators({ precompiled: () => new Map([[canonicalJson(listed), marker]]) });
    expect(ours.getValidator(reordered(listed))(ANSWERS[0])).toEqual({
      valid: false,
      data: undefined,
      errorMessage: 'data/x from the build',
    });
  });
});

describe('pack output validators for any other schema', () => {
  const none = { precompiled: () => new Map() };
  const COUNT: JsonSchemaType = {
    type: 'object',
    properties: { count: { type: 'integer', minimum: 0 } },
    required: ['count'],
    additionalProperties: false,
  };

  it('compile once per schema text and check what the schema says', () => {
    const validators = new OutputValidators(none);
    const check = validators.getValidator(COUNT);
    expect(validators.getValidator(reordered(COUNT))).toBe(check);
    expect(check({ count: 3 })).toMatchObject({ valid: true });
    for (const bad of [{ count: 'many' }, { count: -1 }, { count: 1, extra: true }, {}])
      expect(check(bad).valid, JSON.stringify(bad)).toBe(false);
  });

  it('throw for a schema that does not compile, where the client asks (it then refuses that tool)', () => {
    const broken: JsonSchemaType = { type: 'object', properties: { s: { type: 'string', pattern: '(' } } };
    expect(() => new OutputValidators(none).getValidator(broken)).toThrow();
  });

  it('keep at most 256; past that they compile and do not keep', () => {
    const validators = new OutputValidators(none);
    const numbered = (i: number): JsonSchemaType => ({
      type: 'object',
      properties: { [`f${i}`]: { type: 'integer' } },
    });
    for (let i = 0; i < 260; i++) validators.getValidator(numbered(i));
    expect(validators.size).toBe(256);
    expect(validators.getValidator(numbered(300))({ f300: 'x' }).valid).toBe(false);
    expect(validators.size).toBe(256);
  });

  it('load none when the build put no file beside the runtime, and fail on a file that does not load', async () => {
    expect(loadPrecompiled(new URL('file:///nonexistent/reference-validators.cjs')).size).toBe(0);
    const broken = pathToFileURL(join(dir, 'broken.cjs'));
    await writeFile(broken, 'this is not javascript(');
    expect(() => loadPrecompiled(broken)).toThrow(SyntaxError);
  });
});
