// The operator-editable part of a tenant record (what `export` writes and `apply` reads as YAML),
// and the rules a record must satisfy against the approved tool manifest: unknown tools and
// versions that the manifest does not carry are rejected, never stored.
import { z } from 'zod';
import { TenantRecordSchema, type TenantRecord } from './tenant-spec.ts';
import { RECORDS_TOOLS, SHARED_TOOLS, type ToolDefinition } from '../packs/manifest.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { packOfExposed } from '../packs/pack-naming.ts';

const MANIFEST: readonly ToolDefinition[] = [...SHARED_TOOLS, ...RECORDS_TOOLS];

/** Fields the system owns: never taken from a YAML file. */
export const SYSTEM_FIELDS = ['uid', 'createdAt', 'updatedAt', 'generation'] as const;

export const TenantConfigSchema = TenantRecordSchema.omit({
  uid: true,
  createdAt: true,
  updatedAt: true,
  generation: true,
});
export type TenantConfig = z.infer<typeof TenantConfigSchema>;

export const TenantConfigFileSchema = z.strictObject({
  apiVersion: z.literal('bulkhead/v1'),
  tenants: z.array(TenantConfigSchema),
});
export type TenantConfigFile = z.infer<typeof TenantConfigFileSchema>;

export interface ManifestIssue {
  path: string;
  message: string;
}

/**
 * Every tool a record names must exist in the manifest, pinned to a version it carries (a per-tool
 * quota too: a limit on a tool that does not exist is a typo that would limit nothing); a role may
 * also name a tool of a pack the record enables (the pack registry checks the pin itself).
 */
export function manifestIssues(
  config: Pick<TenantRecord, 'tools' | 'roles'> & Partial<Pick<TenantRecord, 'quotas' | 'packs'>>,
): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const known = new Map(MANIFEST.map((tool) => [tool.name, tool]));
  const seen = new Set<string>();
  config.tools.forEach((pin, index) => {
    const tool = known.get(pin.name);
    if (!tool) issues.push({ path: `tools.${index}.name`, message: `unknown tool "${pin.name}"` });
    else if (tool.version !== pin.version)
      issues.push({
        path: `tools.${index}.version`,
        message: `tool "${pin.name}" has no version ${pin.version} in the manifest (it carries ${tool.version})`,
      });
    if (seen.has(pin.name))
      issues.push({ path: `tools.${index}.name`, message: `tool "${pin.name}" listed twice` });
    seen.add(pin.name);
  });
  const packs = new Set((config.packs ?? []).map((pack) => pack.name));
  config.packs?.forEach((pack, index) => {
    if (config.packs?.findIndex((p) => p.name === pack.name) !== index)
      issues.push({ path: `packs.${index}.name`, message: `pack "${pack.name}" listed twice` });
  });
  for (const [role, tools] of Object.entries(config.roles)) {
    for (const name of tools) {
      const pack = packOfExposed(name);
      if (!known.has(name) && !(pack !== undefined && packs.has(pack)))
        issues.push({ path: `roles.${role}`, message: `unknown tool "${name}"` });
    }
  }
  for (const name of Object.keys(config.quotas?.tools ?? {})) {
    if (!known.has(name))
      issues.push({
        path: `quotas.tools.${name}`,
        message: `unknown tool "${name}" (a per-tool quota names a tool)`,
      });
  }
  return issues;
}

export class TenantSpecError extends BulkheadError<'invalid_spec'> {
  readonly issues: ManifestIssue[];
  constructor(tenantId: string, issues: ManifestIssue[]) {
    super(
      'invalid_spec',
      `tenant "${tenantId}": ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      {
        details: issues,
      },
    );
    this.issues = issues;
  }
}

export function assertAgainstManifest(
  record: Pick<TenantRecord, 'id' | 'tools' | 'roles'> & Partial<Pick<TenantRecord, 'quotas' | 'packs'>>,
): void {
  const issues = manifestIssues(record);
  if (issues.length > 0) throw new TenantSpecError(record.id, issues);
}

export function configOf(record: TenantRecord): TenantConfig {
  const { uid: _uid, createdAt: _c, updatedAt: _u, generation: _g, ...config } = record;
  return TenantConfigSchema.parse(config);
}
