// What stands between a request about a tenant's runtime and the driver: the tenant's lock (its
// changes never interleave), one shared ensure per tenant (a burst of first calls creates one
// container), and, once the lock is held, the registry's word on whether the tenant is still active.
// A request carries the record read when it was made. An offboarding may suspend and purge the
// tenant while the request waits (for the tenant's image, or behind the offboarding's own removal);
// what the request created after that would outlive the offboarding: a container the reconciler
// only reaps, and a data volume that nothing removes (docs/lifecycle.md, "Offboarding").
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { TenantSuspendedError } from './controller-parts.ts';
import { KeyedLock } from './keyed-lock.ts';

export class TenantGate {
  private readonly locks = new KeyedLock();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly registry: Pick<TenantRegistry, 'get'> | undefined;

  /** Without a registry, a request's record is taken at its word (a controller in a unit test). */
  constructor(registry: Pick<TenantRegistry, 'get'> | undefined) {
    this.registry = registry;
  }

  /** `work` under the tenant's lock. */
  run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(tenantId, work);
  }

  /** `work` under the tenant's lock, unless one is in flight already: then its result, shared. */
  shared<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(tenantId) as Promise<T> | undefined;
    if (pending) return pending;
    const started = this.locks.run(tenantId, work).finally(() => this.inFlight.delete(tenantId));
    this.inFlight.set(tenantId, started);
    return started;
  }

  /** Whether the registry has the tenant active now. */
  async isActive(tenantId: string): Promise<boolean> {
    return !this.registry || (await this.registry.get(tenantId))?.status === 'active';
  }

  /** Throws what a request for a tenant gone or no longer active is refused with. */
  async requireActive(tenantId: string): Promise<void> {
    if (!this.registry) return;
    const now = await this.registry.get(tenantId);
    if (!now) throw new BulkheadError('tenant_not_found', `no tenant "${tenantId}"`);
    if (now.status !== 'active') throw new TenantSuspendedError(tenantId, now.status);
  }
}
