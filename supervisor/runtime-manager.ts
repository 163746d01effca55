// Decides when a tenant runtime is needed and makes sure there is exactly one, healthy, per tenant.
// Concurrent requests for one tenant share a single in-flight ensure (single flight), so a burst of
// first calls creates one container, not one per call.
import type { Logger } from 'pino';
import type { RuntimeEndpoint } from '../tenants/contracts/runtime-endpoint.ts';
import type { TenantRecord } from '../tenants/contracts/tenant-spec.ts';
import { probeHealth, waitUntilHealthy, type HealthProbe } from './health-probe.ts';
import type { RuntimeDriver, RuntimeInfo, RuntimeSpec } from './runtime-driver.ts';

export interface RuntimeManagerOptions {
  driver: RuntimeDriver;
  image: string;
  /** Public key the runtime verifies router call assertions with (SPKI PEM or JWK JSON). */
  routerPublicKey: string;
  logger: Logger;
  probe?: HealthProbe;
  healthTimeoutMs?: number;
}

export class TenantSuspendedError extends Error {}

export class RuntimeManager {
  private readonly inFlight = new Map<string, Promise<RuntimeInfo>>();
  private readonly options: RuntimeManagerOptions;

  constructor(options: RuntimeManagerOptions) {
    if (!options.image) throw new Error('RuntimeManager needs a runtime image');
    if (!options.routerPublicKey) throw new Error('RuntimeManager needs the router public key');
    this.options = options;
  }

  specFor(tenant: TenantRecord): RuntimeSpec {
    return {
      tenantId: tenant.id,
      uid: tenant.uid,
      image: this.options.image,
      isolation: tenant.isolation,
      plan: tenant.plan,
      env: { BULKHEAD_ROUTER_PUBLIC_KEY: this.options.routerPublicKey },
    };
  }

  async ensure(tenant: TenantRecord): Promise<RuntimeEndpoint> {
    if (tenant.status !== 'active') throw new TenantSuspendedError(`tenant ${tenant.id} is ${tenant.status}`);
    let pending = this.inFlight.get(tenant.id);
    if (!pending) {
      pending = this.ensureOnce(tenant).finally(() => this.inFlight.delete(tenant.id));
      this.inFlight.set(tenant.id, pending);
    }
    return (await pending).endpoint;
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    return this.options.driver.inspect(tenantId);
  }

  async remove(tenantId: string, purgeData: boolean): Promise<void> {
    await this.options.driver.remove(tenantId, { purgeData });
    this.options.logger.info({ tenant: tenantId, purgeData }, 'runtime removed');
  }

  private async ensureOnce(tenant: TenantRecord): Promise<RuntimeInfo> {
    const started = performance.now();
    const info = await this.options.driver.ensure(this.specFor(tenant));
    await waitUntilHealthy(info.endpoint, {
      probe: this.options.probe ?? probeHealth,
      timeoutMs: this.options.healthTimeoutMs ?? 15_000,
    });
    this.options.logger.info(
      {
        tenant: tenant.id,
        runtime: info.runtimeId.slice(0, 12),
        ms: Math.round(performance.now() - started),
      },
      'runtime ready',
    );
    return info;
  }
}
