// A fixture pack (test/support/fixtures/packs/<name>/) built, approved and enabled for a test stack's
// tenants like any operator's pack: assembled whole in a scratch directory (its stdio loop copied
// next to it), under a version of the stack's own, so that stacks of parallel tests never share
// an image or an approval.
import { cp as copy, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackPin } from '../../kernel/packs/pack-manifest.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { approvePack, buildPack, reviewPack } from '../../tenants/control-plane/packs.ts';
import { updateTenant } from '../../tenants/control-plane/update.ts';
import { containerId } from './mcp-client.ts';
import { FIXTURE_PACKS } from './pack-image.ts';
import type { TestStack } from './stack.ts';

/** Builds and approves the fixture pack `name` from a copy in `work`; its pin. */
export async function approveFixturePack(options: {
  stack: TestStack;
  cp: OpenedControlPlane;
  name: string;
  /** A scratch directory the pack is assembled in. */
  work: string;
}): Promise<PackPin> {
  const { stack, cp, name } = options;
  const dir = join(options.work, name);
  await copy(join(FIXTURE_PACKS, name), dir, { recursive: true });
  await copy(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(dir, 'stdio-server.mjs'));
  const version = `0.0.0-${stack.ns.namespace.slice(-6)}`;
  const manifest = JSON.parse(await readFile(join(dir, 'bulkhead-pack.json'), 'utf8')) as { version: string };
  manifest.version = version;
  await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
  await buildPack(cp, dir, () => undefined);
  await approvePack(cp, await reviewPack(cp, { name, version }));
  return { name, version };
}

/**
 * Enables `pin` for `tenant` (onboarded already), open to agents acting alone, with `changes` to its
 * record besides, and waits until the tenant's runtime stopped being replaced.
 */
export async function enableFixturePack(options: {
  stack: TestStack;
  cp: OpenedControlPlane;
  tenant: string;
  pin: PackPin;
  changes?: Partial<Pick<TenantRecord, 'egress'>>;
}): Promise<void> {
  const { stack, cp, tenant, pin } = options;
  await updateTenant(cp, tenant, { addPacks: [pin] }, { progress: () => undefined });
  const record = await stack.registry.require(tenant);
  await stack.registry.update(tenant, {
    expectedGeneration: record.generation,
    changes: { packs: record.packs.map((p) => ({ ...p, agentsAlone: true })), ...options.changes },
    author: { actor: `test:${pin.name}` },
  });
  // Each change above recycles the runtime (a new image, a new policy): wait (bounded) until the
  // same container has served for a while, so no call lands on one being replaced.
  let last: string | undefined;
  for (let steady = 0, i = 0; steady < 3 && i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const id = await containerId(stack, tenant);
    steady = id !== undefined && id === last ? steady + 1 : 0;
    last = id;
  }
}
