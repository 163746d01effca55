// Read-only views of tenants: the list with each runtime's state, one tenant in full, the change log.
import type { ChangeLogEntry } from '../../kernel/registry/tenant-registry.ts';
import { tenantWithheld, type WithheldTool } from '../../kernel/registry/withheld-tools.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeStatus } from '../../supervisor/client/runtime-jobs.ts';
import type { ControlPlane, OpenedControlPlane } from './context.ts';

export interface TenantView {
  tenant: TenantRecord;
  /** The runtime as the supervisor sees it; null when it has none. */
  runtime: RuntimeStatus | null;
}

export async function listTenants(cp: Pick<ControlPlane, 'registry' | 'runtimes'>): Promise<TenantView[]> {
  const views: TenantView[] = [];
  for (const tenant of await cp.registry.list())
    views.push({ tenant, runtime: await cp.runtimes.inspect(tenant.id) });
  return views;
}

/**
 * One tenant, its runtime, the names of its stored secret values (never the values) and the tools
 * the routers' drift checks withhold for it.
 */
export async function describeTenant(
  cp: Pick<OpenedControlPlane, 'registry' | 'runtimes' | 'secrets' | 'rates'>,
  id: string,
): Promise<TenantView & { storedSecrets: string[]; withheld: WithheldTool[] }> {
  const tenant = await cp.registry.require(id);
  const runtime = await cp.runtimes.inspect(id);
  return {
    tenant,
    runtime,
    storedSecrets: await cp.secrets.names(id),
    withheld: await tenantWithheld(cp.rates, id),
  };
}

/** The change log of one tenant, or of all when `id` is absent. */
export function tenantHistory(cp: Pick<ControlPlane, 'registry'>, id?: string): Promise<ChangeLogEntry[]> {
  return cp.registry.history(id);
}

/** The tenant's record; a tenant_not_found error when there is none. */
export function requireTenant(cp: Pick<ControlPlane, 'registry'>, id: string): Promise<TenantRecord> {
  return cp.registry.require(id);
}
