// Enabling a pack version for a tenant: the pin must name an approval, and the default roles get
// the pack's tools the way they hold the built-in ones (admin: all; editor: all but deletes;
// viewer: reads). Disabling removes the pin and the pack's tools from every role.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { PackRegistry } from '../../kernel/registry/pack-registry.ts';
import type { TenantChanges } from '../../kernel/registry/tenant-registry.ts';
import type { PackPin } from '../../kernel/packs/pack-manifest.ts';
import { packOfExposed } from '../../kernel/packs/pack-naming.ts';
import type { TenantPackPin, TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

/** Every pin of `packs` names an approved version (apply and update check before writing). */
export async function assertPacksApproved(
  registry: Pick<PackRegistry, 'require'>,
  packs: readonly PackPin[],
): Promise<void> {
  for (const pin of packs) await registry.require(pin);
}

export async function packChanges(
  registry: Pick<PackRegistry, 'require'>,
  current: Pick<TenantRecord, 'packs' | 'roles'>,
  request: { add: readonly PackPin[]; remove: readonly string[] },
): Promise<Pick<TenantChanges, 'packs' | 'roles'>> {
  for (const name of request.remove)
    if (!current.packs.some((p) => p.name === name))
      throw new BulkheadError('invalid_input', `pack "${name}" is not enabled for this tenant`);
  const touched = new Set([...request.remove, ...request.add.map((p) => p.name)]);
  const packs: TenantPackPin[] = current.packs.filter((p) => !touched.has(p.name));
  const roles = Object.fromEntries(
    Object.entries(current.roles).map(([role, tools]) => [
      role,
      tools.filter((tool) => !touched.has(packOfExposed(tool) ?? '')),
    ]),
  );
  for (const pin of request.add) {
    const approval = await registry.require(pin);
    const kept = current.packs.find((p) => p.name === pin.name);
    packs.push({ name: pin.name, version: pin.version, agentsAlone: kept?.agentsAlone ?? false });
    const grant = (role: string, tools: string[]) => {
      if (roles[role]) roles[role] = [...roles[role], ...tools];
    };
    grant(
      'admin',
      approval.tools.map((t) => t.exposed),
    );
    grant(
      'editor',
      approval.tools.filter((t) => t.effect !== 'delete').map((t) => t.exposed),
    );
    grant(
      'viewer',
      approval.tools.filter((t) => t.effect === 'read').map((t) => t.exposed),
    );
  }
  return { packs: packs.sort((a, b) => (a.name < b.name ? -1 : 1)), roles };
}
