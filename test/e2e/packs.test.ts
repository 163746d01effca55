// Tool packs from a directory to a tenant's tool list, on the real engine, Redis, supervisor and
// router: the Python example pack is built offline (docker build --network none), started in the
// approval sandbox where it lists its tools over stdio, approved with history, enabled for one
// tenant, and listed through the router for that tenant only. A pack whose listing lacks a
// statement cannot be approved, and a pin without an approval serves nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { ENABLED_PACKS_FILE, PACKS_DIR, type EnabledPacks } from '../../kernel/packs/enabled-packs.ts';
import type { PackManifest } from '../../kernel/packs/pack-manifest.ts';
import type { OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { approvePack, buildPack, reviewPack } from '../../tenants/control-plane/packs.ts';
import { updateTenant } from '../../tenants/control-plane/update.ts';
import { agentClient, containerId } from '../support/mcp-client.ts';
import { PACK_GUARANTEES, renderPackReference } from '../../dev/docs/tool-reference.ts';
import { execIn, RUNTIME_IMAGE } from '../support/namespace.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';
import { until } from '../support/until.ts';

let lab: PackLab;
let stack: TestStack;
let cp: OpenedControlPlane;

/** The example pack under a version of this run (image tags are global on the engine). */
async function examplePack(version: string, edit: (m: PackManifest) => void = () => undefined) {
  return (await lab.copyPack('examples/packs/notes', version, edit)).dir;
}

async function listedNames(tenant: string): Promise<string[]> {
  const client = await agentClient(stack, tenant);
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

const version = (suffix: string) => `0.0.0-${suffix}-${stack.ns.namespace.slice(-6)}`;

beforeAll(async () => {
  lab = await openPackLab('packs');
  ({ stack, cp } = lab);
  await stack.onboard('alpha');
  await stack.onboard('bravo');
}, 120_000);

afterAll(async () => {
  await lab?.close();
});

describe('tool packs', () => {
  it('builds the Python pack offline, lists its tools in the sandbox and approves them with history', async () => {
    const progress: string[] = [];
    const built = await buildPack(cp, await examplePack(version('ok')), (m) => progress.push(m));
    expect(built.image.ref).toBe(`bulkhead/pack-notes:${version('ok')}`);
    expect(progress.some((m) => m.includes('--network none'))).toBe(true);

    const review = await reviewPack(cp, { name: 'notes', version: version('ok') });
    expect(review.problems).toEqual([]);
    expect(review.approval.tools.map((t) => [t.exposed, t.effect])).toEqual([
      ['notes_add', 'create'],
      ['notes_list', 'read'],
    ]);
    expect(review.approval.tools[0]?.blastRadius).toMatch(/Appends one note/);
    const approval = await approvePack(cp, review);
    expect(approval.approvedBy).toBe('test:packs');
    // The tool reference states the pack's guarantee for each write.
    expect(renderPackReference([approval])).toContain(PACK_GUARANTEES.runtime);
    await approvePack(cp, review); // a second approval of the same version: both kept
    const history = await cp.packRegistry.history('notes');
    expect(history.filter((e) => e.version === version('ok'))).toHaveLength(2);
    expect(history[0]?.tools.map((t) => t.exposed)).toEqual(['notes_add', 'notes_list']);
  }, 180_000);

  it('refuses to approve a pack that lists a tool the manifest makes no statement for', async () => {
    await buildPack(cp, await examplePack(version('nostmt'), (m) => delete m.tools.list), () => undefined);
    const review = await reviewPack(cp, { name: 'notes', version: version('nostmt') });
    expect(review.problems).toEqual([
      expect.stringMatching(/lists "list" but the manifest has no statement/),
    ]);
    const refused = await approvePack(cp, review).catch((e: unknown) => e);
    expect(isBulkheadError(refused, 'pack_rejected')).toBe(true);
    expect(await cp.packRegistry.get({ name: 'notes', version: version('nostmt') })).toBeUndefined();
  }, 180_000);

  it("lists an enabled pack's approved tools through the router for that tenant only", async () => {
    // Opened to agents acting alone (the test's callers), as an operator would choose to.
    await lab.enable('alpha', [{ name: 'notes', version: version('ok') }]);
    expect((await stack.registry.require('alpha')).roles.admin).toContain('notes_add');
    // Pinning recycled alpha's runtime onto its composed image: the pack's files and enabled.json.
    const id = await containerId(stack, 'alpha');
    const image = await lab.noteTenantImage('alpha');
    expect(image).toMatch(/^bulkhead\/tenant-image:[0-9a-f]{16}$/);
    const enabled = JSON.parse(
      (await execIn(stack.ns.docker, id!, ['cat', `${PACKS_DIR}/${ENABLED_PACKS_FILE}`])).output,
    ) as EnabledPacks;
    const approved = await cp.packRegistry.require({ name: 'notes', version: version('ok') });
    expect(enabled.packs[0]?.tools).toEqual(
      approved.tools.map((t) => ({ name: t.name, exposed: t.exposed, effect: t.effect, digest: t.digest })),
    );
    const files = await execIn(stack.ns.docker, id!, ['ls', '/opt/bulkhead/packs/notes']);
    expect(files.output).toContain('server.py');
    const bravoImage = (await stack.ns.docker.getContainer((await containerId(stack, 'bravo'))!).inspect())
      .Config.Image;
    expect(bravoImage).toBe(RUNTIME_IMAGE);
    await until(
      async () => (await listedNames('alpha')).includes('notes_add'),
      "alpha's notes_add to be listed",
    );
    const listed = await agentClient(stack, 'alpha');
    const add = (await listed.listTools()).tools.find((t) => t.name === 'notes_add');
    await listed.close();
    // The write carries the required idempotency key; the annotations follow the approved effect.
    expect(add?.inputSchema.required).toEqual(['text', 'idempotency_key']);
    expect(add?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(await listedNames('bravo')).not.toContain('notes_add');
    expect((await listedNames('bravo')).some((name) => name.startsWith('notes_'))).toBe(false);
  }, 60_000);

  it('serves nothing of a pack version without an approval, and refuses to pin one', async () => {
    const refused = await updateTenant(
      cp,
      'bravo',
      { addPacks: [{ name: 'notes', version: version('nostmt') }] },
      { progress: () => undefined },
    ).catch((e: unknown) => e);
    expect(isBulkheadError(refused, 'pack_not_approved')).toBe(true);
    // Written past the use case (as a hand-edited record would be): still nothing served.
    const bravo = await stack.registry.require('bravo');
    await stack.registry.update('bravo', {
      expectedGeneration: bravo.generation,
      changes: { packs: [{ name: 'notes', version: version('nostmt'), agentsAlone: true }] },
      author: { actor: 'test' },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await listedNames('bravo')).some((name) => name.startsWith('notes_'))).toBe(false);
  }, 60_000);

  it('calls an approved pack tool end to end through the router, with the write replayed by its key', async () => {
    const client = await agentClient(stack, 'alpha');
    try {
      const args = { text: 'first note', idempotency_key: 'pack-e2e-0001' };
      const first = await client.callTool({ name: 'notes_add', arguments: args });
      expect(first.isError ?? false).toBe(false);
      expect(first.structuredContent).toMatchObject({ n: 1, text: 'first note' });
      const retry = await client.callTool({ name: 'notes_add', arguments: args });
      expect(retry.structuredContent).toEqual(first.structuredContent);
      const missingKey = await client.callTool({ name: 'notes_add', arguments: { text: 'no key' } });
      expect(missingKey.isError).toBe(true);
      const listed = await client.callTool({ name: 'notes_list', arguments: {} });
      expect((listed.structuredContent as { notes: { text: string }[] }).notes.map((n) => n.text)).toEqual([
        'first note',
      ]);
    } finally {
      await client.close();
    }
  }, 60_000);
});
