// Per-tenant image composition: a tenant that enables packs runs an image FROM the runtime image
// with each enabled pack's approved files copied in from its pack image and
// /opt/bulkhead/packs/enabled.json (the approved set the runtime serves). Built offline
// (`--network none`, nothing fetched), tagged by a hash of what goes in, so an unchanged set of pins
// reuses the image and a changed one (or a re-approval) gets a new tag and so a new spec hash.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import {
  ENABLED_PACKS_FILE,
  EnabledPacksSchema,
  PACKS_DIR,
  type EnabledPacks,
} from '../../kernel/packs/enabled-packs.ts';
import type { PackPin } from '../../kernel/packs/pack-manifest.ts';
import { isEarlierRecord, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { canonicalJson } from '../../kernel/tools/tool-definition.ts';

export const TENANT_IMAGE_REPO = 'bulkhead/tenant-image';

/** enabled.json for a set of approvals (kernel/packs/pack-manifest.ts, EnabledPacksSchema). */
export function enabledPacks(approvals: readonly PackApproval[]): EnabledPacks {
  return EnabledPacksSchema.parse({
    packs: approvals.map((a) => ({
      name: a.name,
      version: a.version,
      command: a.manifest.command,
      secrets: a.manifest.secrets,
      idempotency: a.idempotency,
      tools: a.tools.map((t) => ({ name: t.name, exposed: t.exposed, effect: t.effect, digest: t.digest })),
    })),
  });
}

interface Prepared {
  record: Pick<TenantRecord, 'createdAt' | 'generation'>;
  pins: string;
  /** undefined: no packs (the plain runtime image). */
  ref: string | undefined;
}

interface Composition {
  ref: string;
  base: string;
  approvals: readonly PackApproval[];
  enabled: EnabledPacks;
}

export class TenantImages {
  private readonly docker: Docker;
  private readonly runtimeImage: string;
  private readonly approvals: { require(pin: PackPin): Promise<PackApproval> };
  /** tenant -> the record (its order) and pins it was prepared for, and the image they make. */
  private readonly prepared = new Map<string, Prepared>();

  constructor(options: {
    docker: Docker;
    runtimeImage: string;
    approvals: { require(pin: PackPin): Promise<PackApproval> };
  }) {
    this.docker = options.docker;
    this.runtimeImage = options.runtimeImage;
    this.approvals = options.approvals;
  }

  /** The composed image of a prepared tenant; undefined: the plain runtime image (no packs, or not prepared). */
  imageFor(tenant: TenantRecord): string | undefined {
    const entry = this.prepared.get(tenant.id);
    return entry && entry.pins === canonicalJson(tenant.packs) ? entry.ref : undefined;
  }

  /** The secret names each of the tenant's pinned packs declares in its approved manifest. */
  async declaredSecrets(tenant: TenantRecord): Promise<{ pack: string; names: string[] }[]> {
    const approvals = await Promise.all(tenant.packs.map((pin) => this.approvals.require(pin)));
    return approvals.map((a) => ({ pack: a.name, names: a.manifest.secrets }));
  }

  /**
   * The tenant's image for its current pins, built if missing; refuses an unapproved or rebuilt
   * pack. Without a build (the image exists) it costs the approvals' reads and engine inspects.
   */
  async prepare(tenant: TenantRecord): Promise<void> {
    const composed = await this.compose(tenant);
    if (composed && !(await this.exists(composed.ref))) await this.build(composed);
    this.remember(tenant, composed?.ref);
  }

  /**
   * The ref the tenant's image for its current pins has, built or not (undefined: no packs), for
   * the health pass's view of its spec: this memory is empty after a restart, and a spec computed
   * without the composed image is not the spec of the runtime running on it. An image found built
   * counts as prepared; none is built here (an upgrade of the runtime image would build every
   * tenant's at once in one pass, where the rollout's recycles build a few per pass).
   */
  async resolve(tenant: TenantRecord): Promise<string | undefined> {
    const composed = await this.compose(tenant);
    if (composed && (await this.exists(composed.ref))) this.remember(tenant, composed.ref);
    return composed?.ref;
  }

  /**
   * Two prepares of one tenant may overlap (an ensure on a record read before an update, and one
   * on the updated record): whichever ends last, what is kept is the later record's pins.
   */
  private remember(tenant: TenantRecord, ref: string | undefined): void {
    const entry = this.prepared.get(tenant.id);
    if (entry && isEarlierRecord(tenant, entry.record)) return;
    const record = { createdAt: tenant.createdAt, generation: tenant.generation };
    this.prepared.set(tenant.id, { record, pins: canonicalJson(tenant.packs), ref });
  }

  /** What the tenant's image is made of and its ref (a hash of that); undefined without packs. */
  private async compose(tenant: TenantRecord): Promise<Composition | undefined> {
    if (tenant.packs.length === 0) return undefined;
    const approvals = await Promise.all(tenant.packs.map((pin) => this.approvals.require(pin)));
    for (const approval of approvals) {
      const id = await this.docker
        .getImage(approval.image.ref)
        .inspect()
        .then(
          (info) => info.Id,
          () => undefined,
        );
      if (id !== approval.image.id)
        throw new BulkheadError(
          'pack_not_approved',
          `${approval.image.ref} is ${id ? 'not the image that was approved' : 'missing on this engine'}: rebuild and approve ${approval.name}@${approval.version} again`,
        );
    }
    const enabled = enabledPacks(approvals);
    const base = (await this.docker.getImage(this.runtimeImage).inspect()).Id;
    const hash = createHash('sha256')
      .update(canonicalJson({ base, enabled, images: approvals.map((a) => a.image.id) }))
      .digest('hex')
      .slice(0, 16);
    return { ref: `${TENANT_IMAGE_REPO}:${hash}`, base, approvals, enabled };
  }

  private async exists(ref: string): Promise<boolean> {
    return this.docker
      .getImage(ref)
      .inspect()
      .then(
        () => true,
        () => false,
      );
  }

  private async build({ ref, base, approvals, enabled }: Composition): Promise<void> {
    const context = await mkdtemp(join(tmpdir(), 'bulkhead-tenant-image-'));
    try {
      await writeFile(join(context, 'enabled.json'), JSON.stringify(enabled, null, 2));
      const lines = [
        `FROM ${base}`,
        // From the approved image by its id, not its tag: a build of the same version may retag it
        // between the check in compose() and this build, and would then be copied in unapproved.
        ...approvals.map((a) => `COPY --from=${a.image.id} ${PACKS_DIR}/${a.name}/ ${PACKS_DIR}/${a.name}/`),
        `COPY enabled.json ${PACKS_DIR}/${ENABLED_PACKS_FILE}`,
        '',
      ];
      await writeFile(join(context, 'Dockerfile'), lines.join('\n'));
      const stream = await this.docker.buildImage(
        { context, src: ['Dockerfile', 'enabled.json'] },
        { t: ref, networkmode: 'none', forcerm: true, labels: { 'io.bulkhead.tenant-image': 'true' } },
      );
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => {
          const failed = error?.message ?? output.find((o) => o.error)?.error;
          if (failed) reject(new BulkheadError('runtime_failed', `composing ${ref} failed: ${failed}`));
          else resolve();
        });
      });
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }
}
