// The router's catalog of approved pack tools with the drift guard: a tenant is served only the
// approved tools of the pack versions it pins; a runtime presenting a different definition (or none)
// has the tool withheld for that tenant only; the exact approved definition serves it again. Its
// prompts are held as approved, for the router to list only while the runtime lists them so.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isApprovedPrompt } from '../../kernel/packs/pack-approval.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { DriftGuard } from '../../router/tools/drift-guard.ts';
import { PackCatalog } from '../../router/tools/pack-catalog.ts';
import { notesApproval } from '../support/pack-approval.ts';
import { tenantRecord } from '../support/tenant.ts';

const presented = {
  name: 'notes_add',
  description: 'Store one note.',
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string', minLength: 1, maxLength: 20 } },
    required: ['text'],
    additionalProperties: false,
  },
};

const prompt = {
  name: 'notes_summarize',
  description: 'Summarize a note.',
  arguments: [{ name: 'title', required: true }],
  _meta: { 'example.com/hint': 'notes' },
};
const approval = { ...notesApproval(presented), prompts: [prompt] };

async function setup() {
  const catalog = new PackCatalog({ source: { list: () => Promise.resolve([approval]) } });
  const alpha = tenantRecord('alpha', { packs: [{ name: 'notes', version: '1.0.0', agentsAlone: false }] });
  const bravo = tenantRecord('bravo', { packs: [{ name: 'notes', version: '2.0.0', agentsAlone: false }] });
  await catalog.refresh([alpha, bravo]);
  const guard = new DriftGuard({
    approved: [],
    packDigests: (tenant) => catalog.digestsFor(tenant),
    logger: pino({ level: 'silent' }),
  });
  return { catalog, guard, alpha, bravo };
}

describe('pack catalog and drift guard', () => {
  it('serves the approved tools of a pinned, approved version only', async () => {
    const { catalog, alpha, bravo } = await setup();
    expect(catalog.toolsFor(alpha.packs).map((d) => d.name)).toEqual(['notes_add']);
    expect(catalog.toolsFor(bravo.packs)).toEqual([]); // 2.0.0 has no approval
  });

  it("validates a write's arguments against the approved schema plus the idempotency key", async () => {
    const [def] = (await setup()).catalog.toolsFor([{ name: 'notes', version: '1.0.0', agentsAlone: false }]);
    expect(validateToolArguments(def!, { text: 'hi', idempotency_key: 'key-0001' }).ok).toBe(true);
    expect(validateToolArguments(def!, { text: 'hi' }).ok).toBe(false);
    expect(validateToolArguments(def!, { text: 'x'.repeat(21), idempotency_key: 'key-0001' }).ok).toBe(false);
    expect(validateToolArguments(def!, { text: 'hi', idempotency_key: 'key-0001', extra: 1 }).ok).toBe(false);
  });

  it('withholds a drifted or missing pack tool for that tenant only, and serves it again on a match', async () => {
    const { guard } = await setup();
    guard.check('alpha', [presented]);
    expect(guard.isWithheld('alpha', 'notes_add')).toBe(false);
    guard.check('alpha', [{ ...presented, description: 'Store one note. Also mail it to someone.' }]);
    expect(guard.isWithheld('alpha', 'notes_add')).toBe(true);
    expect(guard.isWithheld('bravo', 'notes_add')).toBe(false);
    guard.check('alpha', []);
    expect(guard.isWithheld('alpha', 'notes_add')).toBe(true);
    guard.check('alpha', [presented]);
    expect(guard.isWithheld('alpha', 'notes_add')).toBe(false);
  });

  it('holds the approved prompts of a pinned version, each judged by its name, title, description and arguments', async () => {
    const { catalog, alpha, bravo } = await setup();
    const approved = catalog.promptsFor(alpha.packs).get('notes_summarize')!;
    expect(approved).toEqual(prompt);
    expect(catalog.promptsFor(bravo.packs).size).toBe(0); // 2.0.0 has no approval
    expect(isApprovedPrompt({ ...prompt, _meta: {} }, approved)).toBe(true); // served from the approval
    expect(isApprovedPrompt({ ...prompt, description: 'Summarize, then mail it.' }, approved)).toBe(false);
    expect(isApprovedPrompt({ ...prompt, title: 'Summary' }, approved)).toBe(false);
    expect(isApprovedPrompt({ ...prompt, arguments: [{ name: 'title' }] }, approved)).toBe(false);
  });

  it("serves no pack tool under a shared tool's name, its pin not held either, and says so once", async () => {
    const logged: unknown[] = [];
    const catalog = new PackCatalog({
      source: { list: () => Promise.resolve([approval]) },
      shared: ['whoami', 'notes_add'],
      logger: { error: (fields: unknown) => void logged.push(fields) },
    });
    const alpha = tenantRecord('alpha', { packs: [{ name: 'notes', version: '1.0.0', agentsAlone: false }] });
    await catalog.refresh([alpha]);
    await catalog.refresh([alpha]);
    expect(catalog.toolsFor(alpha.packs)).toEqual([]);
    expect(catalog.digestsFor('alpha').size).toBe(0);
    expect(logged).toEqual([expect.objectContaining({ tool: 'notes_add', event: 'pack_tool_shadowed' })]);
    expect(catalog.promptsFor(alpha.packs).has('notes_summarize')).toBe(true);
  });
});
