// A pack's input schema patterns run in linear time in the router (kernel/packs/pack-schema.ts): the
// router validates every tenant's arguments on one event loop, and a backtracking `pattern` in an
// approved schema held it for as long as an agent's string made it. A pattern the linear engine
// cannot run (input or output schema) is refused at approval and not served by a router.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { packToolDefinition, type PackApproval } from '../../kernel/packs/pack-approval.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { PackCatalog } from '../../router/tools/pack-catalog.ts';
import { notesApproval } from '../support/pack-approval.ts';
import { tenantRecord } from '../support/tenant.ts';

const KEY = { idempotency_key: 'key-0001' };

function notesAdd(properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const approval = notesApproval({
    name: 'notes_add',
    inputSchema: { type: 'object', properties, ...extra },
  });
  return packToolDefinition(approval, approval.tools[0]!);
}

describe('pack schema patterns', () => {
  // Backtracking: 2^10000 steps for the first; about 4*10^10 for the second (minutes).
  it('matches a nested quantifier and an unanchored .* in linear time, with their meaning kept', () => {
    const nested = notesAdd({ text: { type: 'string', pattern: '^(a+)+$' } });
    expect(validateToolArguments(nested, { text: `${'a'.repeat(10_000)}!`, ...KEY }).ok).toBe(false);
    expect(validateToolArguments(nested, { text: 'aaaa', ...KEY }).ok).toBe(true);
    const unanchored = notesAdd({ text: { type: 'string', pattern: 'a.*b' } });
    expect(validateToolArguments(unanchored, { text: 'a'.repeat(200_000), ...KEY }).ok).toBe(false);
    expect(validateToolArguments(unanchored, { text: 'xa-b', ...KEY }).ok).toBe(true);
  });

  it('matches patternProperties keys in linear time', () => {
    const keyed = notesAdd({}, { patternProperties: { '^(a|a)*$': { type: 'integer' } } });
    expect(validateToolArguments(keyed, { [`${'a'.repeat(5_000)}`]: 'no', ...KEY }).ok).toBe(false);
    expect(validateToolArguments(keyed, { [`${'a'.repeat(5_000)}!`]: 'any', ...KEY }).ok).toBe(true);
  });

  it('refuses a pattern the linear engine cannot run, in the output schema too, and leaves RegExp as it was', () => {
    const Native = RegExp;
    for (const pattern of ['^(a+)\\1$', '^(?!admin).*$', 'a{1,100000}'])
      expect(() => notesAdd({ text: { type: 'string', pattern } })).toThrow(
        /cannot be matched in linear time/,
      );
    const approval = notesApproval({
      name: 'notes_add',
      inputSchema: { type: 'object', properties: {} },
      outputSchema: { type: 'object', properties: { id: { type: 'string', pattern: '^(?=n)\\w+$' } } },
    });
    expect(() => packToolDefinition(approval, approval.tools[0]!)).toThrow(
      /cannot be matched in linear time/,
    );
    expect(RegExp).toBe(Native);
    notesAdd({ text: { type: 'string', pattern: '^x+$' } });
    expect(RegExp).toBe(Native);
    expect(new RegExp('(a)\\1').flags).toBe('');
  });

  it("serves a pack's other tools when one of its approved schemas cannot be enforced", async () => {
    const base = notesApproval({ name: 'notes_add', inputSchema: { type: 'object', properties: {} } });
    const listDefinition = {
      name: 'notes_list',
      inputSchema: { type: 'object', properties: { q: { type: 'string', pattern: '(\\w)\\1' } } },
    };
    const approval: PackApproval = {
      ...base,
      tools: [
        ...base.tools,
        {
          ...base.tools[0]!,
          name: 'list',
          exposed: 'notes_list',
          effect: 'read',
          definition: listDefinition,
          digest: definitionDigest(listDefinition),
        },
      ],
    };
    const errors: unknown[] = [];
    const catalog = new PackCatalog({
      source: { list: () => Promise.resolve([approval]) },
      logger: pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line)) }),
    });
    const alpha = tenantRecord('alpha', { packs: [{ name: 'notes', version: '1.0.0', agentsAlone: false }] });
    await catalog.refresh([alpha]);
    expect(catalog.toolsFor(alpha.packs).map((d) => d.name)).toEqual(['notes_add']);
    expect([...catalog.digestsFor('alpha').keys()]).toEqual(['notes_add']);
    expect(errors).toEqual([
      expect.objectContaining({ tool: 'notes_list', event: 'pack_tool_unenforceable' }),
    ]);
  });
});
