// What the router advertises (resource metadata, 401 challenges): its own scopes, then every scope of
// every approved pack tool, deduplicated, sorted, bounded, the oldest approvals kept when the bound is
// reached; and the manifest's own bounds on a pack's scopes.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { MAX_PACK_SCOPES, PackManifestSchema, PackScopeSchema } from '../../kernel/packs/pack-manifest.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import { AdvertisedScopes, MAX_ADVERTISED_SCOPES } from '../../router/auth/advertised-scopes.ts';
import { PackCatalog } from '../../router/tools/pack-catalog.ts';

const OWN = ['records:read', 'records:write'];

/** An approval of `name@1.0.0` whose tools need `scopes` (null: none), approved at `approvedAt`. */
function approval(name: string, approvedAt: string, scopes: (string | null)[]): PackApproval {
  const tools = scopes.map((scope, i) => {
    const definition = { name: `${name}_t${i}`, inputSchema: { type: 'object' } };
    return {
      name: `t${i}`,
      exposed: definition.name,
      effect: 'read' as const,
      scope,
      definition,
      digest: definitionDigest(definition),
    };
  });
  return {
    name,
    version: '1.0.0',
    image: { ref: `bulkhead/pack-${name}:1.0.0`, id: 'sha256:0' },
    manifest: {
      name,
      version: '1.0.0',
      command: ['true'],
      secrets: [],
      idempotency: 'runtime',
      tools: Object.fromEntries(
        tools.map((t) => [t.name, { effect: 'read', scopes: t.scope ? [t.scope] : [] }]),
      ),
    },
    idempotency: 'runtime',
    tools,
    resources: [],
    resourceTemplates: [],
    prompts: [],
    approvedBy: 'test',
    approvedAt,
  };
}

async function advertised(approvals: PackApproval[], logger = pino({ level: 'silent' })) {
  const packs = new PackCatalog({ source: { list: () => Promise.resolve(approvals) } });
  await packs.refresh([]);
  return { packs, scopes: new AdvertisedScopes({ own: OWN, packs, logger }) };
}

describe('advertised scopes', () => {
  it("lists the router's own scopes first, then the packs' sorted and deduplicated", async () => {
    const { scopes } = await advertised([
      approval('notes', '2026-01-02T00:00:00Z', ['notes:write', 'notes:read', 'notes:read', null]),
      approval('files', '2026-01-01T00:00:00Z', ['files:read', 'records:read']),
    ]);
    expect(scopes.list()).toEqual([...OWN, 'files:read', 'notes:read', 'notes:write']);
    // The same array while nothing changed: the metadata and challenges are not rebuilt per request.
    expect(scopes.list()).toBe(scopes.list());
  });

  it('follows the catalog: a new approval adds its scopes, a withdrawn one takes them away', async () => {
    const approvals = [approval('notes', '2026-01-01T00:00:00Z', ['notes:read'])];
    const { packs, scopes } = await advertised(approvals);
    expect(scopes.list()).toEqual([...OWN, 'notes:read']);
    approvals.push(approval('files', '2026-01-02T00:00:00Z', ['files:read']));
    await packs.refresh([]);
    expect(scopes.list()).toEqual([...OWN, 'files:read', 'notes:read']);
    approvals.splice(0, 1);
    await packs.refresh([]);
    expect(scopes.list()).toEqual([...OWN, 'files:read']);
  });

  it('is bounded: past the bound the newest approvals are left out, and that is logged', async () => {
    const warnings: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    // Ten packs of eight scopes each: more than the bound; "a..." sorts first but is approved last.
    const approvals = Array.from({ length: 10 }, (_, p) =>
      approval(
        p === 9 ? 'aaa' : `pack${p}`,
        `2026-01-${String(p + 1).padStart(2, '0')}T00:00:00Z`,
        Array.from({ length: 8 }, (_, t) => `${p === 9 ? 'aaa' : `pack${p}`}:s${t}`),
      ),
    );
    const list = (await advertised(approvals, logger)).scopes.list();
    expect(list).toHaveLength(MAX_ADVERTISED_SCOPES);
    expect(new Set(list).size).toBe(list.length);
    expect(list.slice(0, 2)).toEqual(OWN);
    expect(list.some((s) => s.startsWith('aaa:'))).toBe(false);
    expect(list).toContain('pack0:s7');
    expect(warnings).toHaveLength(1);
  });

  it('skips a scope in the registry that the manifest schema would refuse', async () => {
    const { scopes } = await advertised([
      approval('notes', '2026-01-01T00:00:00Z', ['notes:read', 'openid', 'Notes Read']),
    ]);
    expect(scopes.list()).toEqual([...OWN, 'notes:read']);
  });
});

describe("a pack manifest's scopes", () => {
  const manifest = (scopes: string[]) => ({
    name: 'notes',
    version: '1.0.0',
    command: ['true'],
    tools: Object.fromEntries(scopes.map((scope, i) => [`t${i}`, { effect: 'read', scopes: [scope] }])),
  });

  it('are <area>:<action>: never a name an OpenID provider gives its own meaning', () => {
    for (const scope of ['openid', 'offline_access', 'roles', 'profile', 'Notes:read', ':read', 'a b:c'])
      expect(PackScopeSchema.safeParse(scope).success, scope).toBe(false);
    for (const scope of ['notes:read', 'files.v2:write', 'a:b'])
      expect(PackScopeSchema.safeParse(scope).success).toBe(true);
  });

  it(`are at most ${MAX_PACK_SCOPES} distinct per pack`, () => {
    const many = Array.from({ length: MAX_PACK_SCOPES + 1 }, (_, i) => `notes:s${i}`);
    expect(PackManifestSchema.safeParse(manifest(many.slice(0, MAX_PACK_SCOPES))).success).toBe(true);
    expect(
      PackManifestSchema.safeParse(manifest([...many.slice(0, MAX_PACK_SCOPES), 'notes:s0'])).success,
    ).toBe(true);
    expect(PackManifestSchema.safeParse(manifest(many)).success).toBe(false);
  });
});
