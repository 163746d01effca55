// A pack lists whatever tool names it likes, and the review looks each one up among the manifest's
// statements: a name JavaScript objects already answer to ("constructor", "toString", "__proto__")
// must find no statement the operator did not write, and the review must name the problem instead
// of failing with a TypeError. A manifest cannot state "__proto__" at all: the parse would drop
// that statement without a word, so it is refused by name.
import { describe, expect, it } from 'vitest';
import { PackManifestSchema, type PackManifest } from '../../kernel/packs/pack-manifest.ts';
import { reviewPack } from '../../tenants/control-plane/packs.ts';

const manifest: PackManifest = {
  name: 'notes',
  version: '1.0.0',
  command: ['python3', '/opt/bulkhead/packs/notes/server.py'],
  secrets: [],
  idempotency: 'runtime',
  tools: { add: { effect: 'read', scopes: [] } },
};

const tool = (name: string) => ({ name, inputSchema: { type: 'object' } });

/** The supervisor's sandbox, as the review sees it: what the pack listed. */
function sandbox(names: string[], stated: PackManifest = manifest) {
  return {
    packs: {
      list: () =>
        Promise.resolve({
          image: { ref: 'bulkhead/pack-notes:1.0.0', id: 'sha256:0' },
          manifest: stated,
          listing: { tools: names.map(tool), resources: [], resourceTemplates: [], prompts: [] },
        }),
    },
  } as unknown as Parameters<typeof reviewPack>[0];
}

describe("pack approve: a listed tool's name", () => {
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    '"%s" without a statement is a problem of the review, not a crash',
    async (name) => {
      const review = await reviewPack(sandbox(['add', name]), { name: 'notes', version: '1.0.0' });
      expect(review.approval.tools.map((t) => t.name)).toEqual(['add']);
      expect(review.problems).toHaveLength(1);
      expect(review.problems[0]).toContain(`"${name}"`);
    },
  );

  it('"__proto__" is named as a name no pack tool may have', async () => {
    const review = await reviewPack(sandbox(['add', '__proto__']), { name: 'notes', version: '1.0.0' });
    expect(review.problems).toEqual([
      'the pack lists "__proto__": "__proto__" cannot be a pack tool\'s name: rename the tool',
    ]);
  });

  it('"constructor" with a statement of its own is reviewed like any tool', async () => {
    const stated = {
      ...manifest,
      tools: { ...manifest.tools, constructor: { effect: 'read' as const, scopes: [] } },
    };
    const review = await reviewPack(sandbox(['add', 'constructor'], stated), {
      name: 'notes',
      version: '1.0.0',
    });
    expect(review.problems).toEqual([]);
    expect(review.approval.tools.map((t) => t.exposed)).toEqual(['notes_add', 'notes_constructor']);
  });
});

describe("pack approve: a listed tool's definition", () => {
  it("that is not a valid one is named field by field, as other refusals are, not in zod's layout", async () => {
    const listed = { name: 'add', inputSchema: 'none', title: 7 };
    const packs = {
      list: async () => {
        const shown = await sandbox([]).packs.list('notes');
        return { ...shown, listing: { ...shown.listing, tools: [listed] } };
      },
    };
    const review = await reviewPack({ packs } as never, { name: 'notes', version: '1.0.0' });
    expect(review.approval.tools).toEqual([]);
    expect(review.problems).toEqual([
      '"add": not a valid tool definition: title: expected string, received number; ' +
        'inputSchema: expected record, received string',
    ]);
  });
});

describe('a pack manifest', () => {
  it('refuses a "__proto__" statement by name instead of dropping it', () => {
    const json = JSON.parse(
      '{"name":"notes","version":"1.0.0","command":["x"],"tools":{"__proto__":{"effect":"read"},"add":{"effect":"read"}}}',
    ) as unknown;
    const parsed = PackManifestSchema.safeParse(json);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['tools', '"__proto__" cannot be a pack tool\'s name: rename the tool'],
    ]);
  });

  it("accepts statements named like Object's members as statements of their own", () => {
    const parsed = PackManifestSchema.parse({
      ...manifest,
      tools: { constructor: { effect: 'read' }, toString: { effect: 'read' } },
    });
    expect(Object.keys(parsed.tools)).toEqual(['constructor', 'toString']);
    expect(parsed.tools.constructor).toEqual({ effect: 'read', scopes: [] });
  });
});
