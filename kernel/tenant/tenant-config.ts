// The operator-editable part of a tenant record (what `export` writes and `apply` reads as YAML),
// and the rules a record must satisfy against the approved tool manifest: unknown tools and
// versions that the manifest does not carry are rejected, never stored.
import { z } from 'zod';
import { TenantRecordSchema, type TenantRecord } from './tenant-spec.ts';
import { MANIFEST } from '../packs/manifest.ts';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { dotPath, fieldLine } from '../errors/input-issues.ts';
import { packOfExposed } from '../packs/pack-naming.ts';

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
  /** The field of the record, e.g. `['tools', 0, 'name']` (a quota's key may hold dots). */
  path: PropertyKey[];
  message: string;
}

/**
 * Every tool a record names must exist in the manifest, pinned to a version it carries, a deprecated
 * one too: the router serves it, and a record written before a newer version came pins the older
 * (were only current versions known, every change to such a tenant, its suspension for offboarding
 * included, would be refused until its pins moved). A per-tool quota must name a tool too (a limit
 * on a tool that does not exist is a typo that would limit nothing); a role may also name a tool of
 * a pack the record enables (the pack registry checks the pin itself).
 */
export function manifestIssues(
  config: Pick<TenantRecord, 'tools' | 'roles'> & Partial<Pick<TenantRecord, 'quotas' | 'packs'>>,
): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  const known = new Set(MANIFEST.map((tool) => tool.name));
  const seen = new Set<string>();
  config.tools.forEach((pin, index) => {
    const versions = MANIFEST.filter((tool) => tool.name === pin.name).map((tool) => tool.version);
    if (versions.length === 0)
      issues.push({ path: ['tools', index, 'name'], message: `unknown tool "${pin.name}"` });
    else if (!versions.includes(pin.version))
      issues.push({
        path: ['tools', index, 'version'],
        message: `tool "${pin.name}" has no version ${pin.version} in the manifest (it carries ${versions.join(', ')})`,
      });
    if (seen.has(pin.name))
      issues.push({ path: ['tools', index, 'name'], message: `tool "${pin.name}" listed twice` });
    seen.add(pin.name);
  });
  const packs = new Set((config.packs ?? []).map((pack) => pack.name));
  config.packs?.forEach((pack, index) => {
    if (config.packs?.findIndex((p) => p.name === pack.name) !== index)
      issues.push({ path: ['packs', index, 'name'], message: `pack "${pack.name}" listed twice` });
  });
  for (const [role, tools] of Object.entries(config.roles)) {
    for (const name of tools) {
      const pack = packOfExposed(name);
      if (!known.has(name) && !(pack !== undefined && packs.has(pack)))
        issues.push({ path: ['roles', role], message: `unknown tool "${name}"` });
    }
  }
  for (const name of Object.keys(config.quotas?.tools ?? {})) {
    if (!known.has(name))
      issues.push({
        path: ['quotas', 'tools', name],
        message: `unknown tool "${name}" (a per-tool quota names a tool)`,
      });
  }
  return issues;
}

/** What the manifest refuses of a tenant: `details` names each field as the message does. */
export class TenantSpecError extends BulkheadError<'invalid_spec'> {
  readonly issues: ManifestIssue[];
  constructor(tenantId: string, issues: ManifestIssue[]) {
    super(
      'invalid_spec',
      `tenant "${tenantId}": ${issues.map((i) => fieldLine(i.path, i.message)).join('; ')}`,
      {
        details: issues.map((i) => ({ path: dotPath(i.path), message: i.message })),
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
