// Tenants as a YAML document (the operator-editable fields only, no system fields), the form
// `apply` reads back.
import { stringify } from 'yaml';
import { configOf, type TenantConfigFile } from '../../kernel/tenant/tenant-config.ts';
import type { ControlPlane } from './context.ts';

/** The tenants with these ids (every tenant when none are given) as YAML, with a dated header. */
export async function exportTenants(
  cp: Pick<ControlPlane, 'registry'>,
  ids: readonly string[] = [],
): Promise<{ count: number; yaml: string }> {
  const tenants = ids.length
    ? await Promise.all(ids.map((id) => cp.registry.require(id)))
    : await cp.registry.list();
  const file: TenantConfigFile = { apiVersion: 'bulkhead/v1', tenants: tenants.map(configOf) };
  return {
    count: tenants.length,
    yaml: `# Bulkhead tenants, exported ${new Date().toISOString()}\n${stringify(file)}`,
  };
}
