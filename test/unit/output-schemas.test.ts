// The router's check of a tenant tool's result against the output schema the agent was listed
// (router/pipeline/output-schemas.ts): an approved pack tool's JSON Schema, a records tool's wire
// schema (stricter than its zod schema, which drops unknown keys), a deprecated version's as that
// version answers. Each verdict is compared with what a stock SDK client says of the same result.
import { randomUUID } from 'node:crypto';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { describe, expect, it, vi } from 'vitest';
import { MANIFEST } from '../../kernel/packs/manifest.ts';
import { packToolDefinition } from '../../kernel/packs/pack-approval.ts';
import { wireTool, type ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import type { ToolAnswer } from '../../router/dispatch/call-relay.ts';
import { outputProblem } from '../../router/pipeline/output-schemas.ts';
import { notesApproval } from '../support/pack-approval.ts';

const COUNTED = {
  type: 'object',
  properties: { count: { type: 'integer' }, label: { type: 'string' } },
  required: ['count', 'label'],
  additionalProperties: false,
};

function packTool(outputSchema?: Record<string, unknown>): ToolDefinition {
  const definition = {
    name: 'notes_add',
    inputSchema: { type: 'object', properties: {} },
    ...(outputSchema ? { outputSchema } : {}),
  };
  const approval = notesApproval(definition);
  return packToolDefinition(approval, approval.tools[0]!);
}

function records(name: string, version?: string): ToolDefinition {
  const def = MANIFEST.find((d) => d.name === name && (version ? d.version === version : !d.deprecated));
  if (!def) throw new Error(`${name} ${version}`);
  return def;
}

const answer = (structuredContent: unknown): ToolAnswer => ({
  content: [{ type: 'text', text: JSON.stringify(structuredContent) }],
  structuredContent: structuredContent as Record<string, unknown>,
});

/** What a stock client's validator says of `structured` by the schema `def` lists. */
function clientAccepts(def: ToolDefinition, structured: unknown): boolean {
  return new AjvJsonSchemaValidator().getValidator(wireTool(def).outputSchema)(structured).valid;
}

const record = () => ({
  id: randomUUID(),
  title: 't',
  body: '',
  tags: [],
  ref: null,
  quantity: null,
  start_date: null,
  due_date: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'agent',
});

describe('a tenant tool result checked against its listed output schema', () => {
  it.each([
    ['a conforming result', { count: 3, label: 'x' }, true],
    ['a wrong type', { count: 'three', label: 'x' }, false],
    ['a missing required field', { count: 3 }, false],
    ['a field the schema does not allow', { count: 3, label: 'x', extra: true }, false],
  ])("an approved pack tool's: %s, as a stock client says", (_what, structured, valid) => {
    const def = packTool(COUNTED);
    expect(clientAccepts(def, structured)).toBe(valid);
    const problem = outputProblem(def, answer(structured));
    if (valid) expect(problem).toBeUndefined();
    else expect(problem).toMatch(/^data/);
  });

  it('refuses a non-error result without structured content, as a stock client does', () => {
    expect(outputProblem(packTool(COUNTED), { content: [] })).toBe('a result without structured content');
  });

  it('passes an error result and an input request unchecked, and anything of a tool without a schema', () => {
    const def = packTool(COUNTED);
    expect(
      outputProblem(def, { isError: true, content: [], structuredContent: { count: 'x' } }),
    ).toBeUndefined();
    const asks = { resultType: 'input_required', inputRequests: {} } as unknown as ToolAnswer;
    expect(outputProblem(def, asks)).toBeUndefined();
    expect(outputProblem(packTool(), answer({ anything: 1 }))).toBeUndefined();
    expect(outputProblem(packTool(), { content: [] })).toBeUndefined();
  });

  it('refuses a key a records tool does not name, which its zod schema would drop', () => {
    const def = records('records_list');
    const extra = { records: [], next_cursor: null, leaked: 'x' };
    expect(def.outputSchema.safeParse(extra).success).toBe(true);
    expect(clientAccepts(def, extra)).toBe(false);
    expect(outputProblem(def, answer(extra))).toMatch(/additional properties/);
    expect(outputProblem(def, answer({ records: [record()], next_cursor: null }))).toBeUndefined();
    expect(
      outputProblem(def, answer({ records: [{ ...record(), id: 'not-a-uuid' }], next_cursor: null })),
    ).toMatch(/id/);
  });

  it("checks a deprecated version's result as the agent gets it: cut to the fields that version names", () => {
    const old = records('records_list', '1.1.0');
    const current = { records: [record()], next_cursor: 'oldest_first:1' };
    // The runtime implements the current version: the older schema refuses its next_cursor as it is.
    expect(clientAccepts(old, current)).toBe(false);
    expect(outputProblem(old, answer(current))).toBeUndefined();
    expect(outputProblem(old, answer({ records: 'none', next_cursor: null }))).toBeDefined();
  });

  it('refuses every result of a tool whose approved schema does not compile', () => {
    const def = packTool({ type: 'object', $schema: 'https://example.com/no-such-dialect' });
    expect(outputProblem(def, answer({}))).toMatch(/does not compile/);
  });

  it('compiles each approved definition once, by its digest', () => {
    const compile = vi.spyOn(AjvJsonSchemaValidator.prototype, 'getValidator');
    try {
      const schema = { ...COUNTED, description: `once ${randomUUID()}` };
      for (let i = 0; i < 3; i++)
        expect(outputProblem(packTool(schema), answer({ count: i, label: 'x' }))).toBeUndefined();
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });
});
