// A stand-in for the per-tenant images (supervisor/docker/tenant-images.ts) in unit tests of the
// lifecycle: a tenant's image is named after its pack pins. `built` plays the engine's images, which
// outlive a supervisor: a second MemoryImages over the same set is a restarted supervisor's, that has
// prepared nothing yet. A prepare of an image the test holds waits until released (a slow build).
import type { TenantRecord } from '../../../kernel/tenant/tenant-spec.ts';

export class MemoryImages {
  /** tenant -> the image last prepared for it (what it was prepared for, as TenantImages keeps). */
  private readonly prepared = new Map<string, string>();
  private readonly holds = new Map<string, Promise<void>>();
  /** Every image a prepare was asked for, in order. */
  readonly prepares: string[] = [];
  /** resolve answers as an engine that has lost its images, or a pack no longer approved. */
  unresolvable = false;
  readonly built: Set<string>;

  constructor(built = new Set<string>()) {
    this.built = built;
  }

  static refOf(tenant: TenantRecord): string {
    return `bulkhead/tenant-image:${tenant.packs.map((p) => `${p.name}-${p.version}`).join('+')}`;
  }

  /** Prepares of `ref` wait until the returned function is called. */
  hold(ref: string): () => void {
    let release!: () => void;
    this.holds.set(ref, new Promise((resolve) => (release = resolve)));
    return release;
  }

  async prepare(tenant: TenantRecord): Promise<void> {
    if (tenant.packs.length === 0) return void this.prepared.delete(tenant.id);
    const ref = MemoryImages.refOf(tenant);
    this.prepares.push(ref);
    await this.holds.get(ref);
    this.built.add(ref);
    this.prepared.set(tenant.id, ref);
  }

  imageFor(tenant: TenantRecord): string | undefined {
    const ref = MemoryImages.refOf(tenant);
    return tenant.packs.length > 0 && this.prepared.get(tenant.id) === ref ? ref : undefined;
  }

  async resolve(tenant: TenantRecord): Promise<string | undefined> {
    if (tenant.packs.length === 0) return undefined;
    if (this.unresolvable) throw new Error('pack not approved');
    const ref = MemoryImages.refOf(tenant);
    if (this.built.has(ref)) this.prepared.set(tenant.id, ref);
    return Promise.resolve(ref);
  }
}
