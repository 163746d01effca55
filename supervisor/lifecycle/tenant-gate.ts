// What stands between a request about a tenant's runtime and the driver: the tenant's lock (its
// changes never interleave), one shared ensure per tenant (a burst of first calls creates one
// container), and, once the lock is held, the registry's word on the tenant: whether it is still
// active, and the record the runtime is made from.
// A request carries the record read when it was made. An offboarding may suspend and purge the
// tenant while the request waits (for the tenant's image, or behind the offboarding's own removal);
// what the request created after that would outlive the offboarding: a container the reconciler
// only reaps, and a data volume that nothing removes (docs/lifecycle.md, "Offboarding"). An update
// (plan, isolation, packs) may land meanwhile too: a runtime made from the request's record would
// be the old one, brought up after, or in place of, the one made for the update.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { isEarlierRecord, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { TenantSuspendedError, type RuntimeControllerOptions } from './controller-parts.ts';
import { KeyedLock } from '../../kernel/process/keyed-lock.ts';

export class TenantGate {
  private readonly locks = new KeyedLock();
  private readonly inFlight = new Map<string, { record: TenantRecord; result: Promise<unknown> }>();
  private readonly registry: Pick<TenantRegistry, 'get'> | undefined;
  private readonly images: RuntimeControllerOptions['images'];

  /** Without a registry, a request's record is taken at its word (a controller in a unit test). */
  constructor(
    registry: Pick<TenantRegistry, 'get'> | undefined,
    images?: RuntimeControllerOptions['images'],
  ) {
    this.registry = registry;
    this.images = images;
  }

  /** `work` under the tenant's lock. */
  run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(tenantId, work);
  }

  /**
   * `work` under the tenant's lock, unless one asked with the same record or a later one is in
   * flight: then its result, shared. One asked with an earlier record may hand out a runtime made
   * from that record, so a later record's request runs its own after it.
   */
  shared<T>(record: TenantRecord, work: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(record.id);
    if (pending && !isEarlierRecord(pending.record, record)) return pending.result as Promise<T>;
    const entry = { record, result: this.locks.run(record.id, work) };
    this.inFlight.set(record.id, entry);
    void entry.result
      .finally(() => {
        if (this.inFlight.get(record.id) === entry) this.inFlight.delete(record.id);
      })
      .catch(() => undefined);
    return entry.result;
  }

  /**
   * The registry's record of the tenant now (the request's own without a registry), if it is
   * active, with the image of its pack pins prepared: a request whose record is older prepared the
   * image of the older pins.
   */
  async active(tenant: TenantRecord): Promise<TenantRecord | undefined> {
    const now = await this.read(tenant);
    return now?.status === 'active' ? this.withImage(now) : undefined;
  }

  /** active's record, or what a request for a tenant gone or no longer active is refused with. */
  async requireActive(tenant: TenantRecord): Promise<TenantRecord> {
    const now = await this.read(tenant);
    if (!now) throw new BulkheadError('tenant_not_found', `no tenant "${tenant.id}"`);
    if (now.status !== 'active') throw new TenantSuspendedError(tenant.id, now.status);
    return this.withImage(now);
  }

  private async read(tenant: TenantRecord): Promise<TenantRecord | undefined> {
    return this.registry ? this.registry.get(tenant.id) : tenant;
  }

  private async withImage(record: TenantRecord): Promise<TenantRecord> {
    if (this.images && record.packs.length > 0 && this.images.imageFor(record) === undefined)
      await this.images.prepare(record);
    return record;
  }
}
