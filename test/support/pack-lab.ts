// The operator's pack path for end-to-end tests: a stack whose router watches pins closely, the
// control plane over it, a scratch directory, and what a run leaves on the engine (pack images and
// composed tenant images, whose tags are global) removed at the end.
import { cp as copy, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packImage, type PackManifest, type PackPin } from '../../kernel/packs/pack-manifest.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { approvePack, buildPack, reviewPack } from '../../tenants/control-plane/packs.ts';
import { updateTenant } from '../../tenants/control-plane/update.ts';
import { containerId } from './mcp-client.ts';
import { REDIS_URL } from './namespace.ts';
import { startTestStack, type TestStack, type TestStackOptions } from './stack.ts';

export interface PackLab {
  stack: TestStack;
  cp: OpenedControlPlane;
  /** Scratch directory of this run, removed by close(). */
  work: string;
  /**
   * Copies a pack directory into the scratch directory under `version` (image tags are global on
   * the engine: one version per run), edited as given; its image is removed by close().
   */
  copyPack(
    source: string,
    version: string,
    edit?: (manifest: PackManifest) => void,
  ): Promise<{ dir: string; manifest: PackManifest }>;
  /** Builds, reviews (no problem expected) and approves a copied pack; its exposed tool names. */
  buildAndApprove(dir: string, manifest: PackManifest): Promise<string[]>;
  /** Pins the packs for the tenant and opens them to agents acting alone (the tests' callers). */
  enable(tenant: string, pins: PackPin[]): Promise<void>;
  /** The image the tenant's container runs (its composed image), removed by close(). */
  noteTenantImage(tenant: string): Promise<string>;
  close(): Promise<void>;
}

/** `options`: the stack's besides (its router's settings added to the close pin watch). */
export async function openPackLab(label: string, options: TestStackOptions = {}): Promise<PackLab> {
  const stack = await startTestStack(label, {
    ...options,
    router: { pinWatchIntervalMs: 100, ...options.router },
  });
  const work = await mkdtemp(join(tmpdir(), `bulkhead-${label}-`));
  const cp = await openControlPlane({
    redisUrl: REDIS_URL,
    namespace: stack.ns.namespace,
    secretsKeyFile: join(stack.ns.runDir, 'secrets.key'),
    actor: `test:${label}`,
  });
  const images: string[] = [];
  return {
    stack,
    cp,
    work,
    async copyPack(source, version, edit = () => undefined) {
      const dir = join(work, `${source.split('/').at(-1)}-${version}`);
      await copy(source, dir, { recursive: true, filter: (s) => !s.includes('node_modules') });
      const path = join(dir, 'bulkhead-pack.json');
      const manifest = JSON.parse(await readFile(path, 'utf8')) as PackManifest;
      manifest.version = version;
      edit(manifest);
      await writeFile(path, JSON.stringify(manifest));
      images.push(packImage({ name: manifest.name, version }));
      return { dir, manifest };
    },
    async buildAndApprove(dir, manifest) {
      await buildPack(cp, dir, () => undefined);
      const review = await reviewPack(cp, { name: manifest.name, version: manifest.version });
      if (review.problems.length > 0)
        throw new Error(`${manifest.name} cannot be approved: ${review.problems.join('; ')}`);
      await approvePack(cp, review);
      return review.approval.tools.map((t) => t.exposed);
    },
    async enable(tenant, pins) {
      await updateTenant(cp, tenant, { addPacks: pins }, { progress: () => undefined });
      const record = await stack.registry.require(tenant);
      await stack.registry.update(tenant, {
        expectedGeneration: record.generation,
        changes: { packs: record.packs.map((p) => ({ ...p, agentsAlone: true })) },
        author: { actor: 'test' },
      });
    },
    async noteTenantImage(tenant) {
      const id = await containerId(stack, tenant);
      const image = (await stack.ns.docker.getContainer(id!).inspect()).Config.Image;
      images.push(image);
      return image;
    },
    async close() {
      await cp.close();
      await stack.close();
      for (const image of images)
        await stack.ns.docker
          .getImage(image)
          .remove({ force: true })
          .catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    },
  };
}
