// Suspend and resume: a suspended tenant's calls are refused (an authorization error) and its
// container is removed; its data volume, secrets and record stay. Resuming starts its runtime again.
import { TenantIdSchema, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane, Progress } from './context.ts';

export async function setStatus(
  cp: ControlPlane,
  id: string,
  status: TenantRecord['status'],
  progress: Progress,
): Promise<TenantRecord> {
  const current = await cp.registry.require(TenantIdSchema.parse(id));
  let tenant = current;
  if (current.status !== status) {
    progress(`marking "${id}" ${status} (generation ${current.generation} -> ${current.generation + 1})`);
    tenant = await cp.registry.update(id, {
      expectedGeneration: current.generation,
      changes: { status },
      author: { actor: cp.actor, reason: status === 'suspended' ? 'suspend' : 'resume' },
    });
  } else progress(`"${id}" is already ${status}`);
  if (status === 'suspended') {
    progress('stopping and removing its container (the data volume is kept)');
    await cp.runtimes.remove(id, { purgeData: false });
  } else {
    progress('starting its runtime');
    await cp.runtimes.ensure(id);
  }
  return tenant;
}
