// Suspend and resume: a suspended tenant's calls are refused (an authorization error) and its
// container is removed; its data volume, secrets and record stay. Resuming starts its runtime again.
import { TenantIdSchema, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane, Progress } from './context.ts';

export async function setStatus(
  cp: Pick<ControlPlane, 'registry' | 'runtimes' | 'actor'>,
  id: string,
  status: TenantRecord['status'],
  progress: Progress,
  /** Why, in the operator's words: recorded in the change log after the action's name. */
  why?: string,
): Promise<TenantRecord> {
  const current = await cp.registry.require(TenantIdSchema.parse(id));
  let tenant = current;
  if (current.status !== status) {
    progress(`marking "${id}" ${status} (generation ${current.generation} -> ${current.generation + 1})`);
    tenant = await cp.registry.update(id, {
      expectedGeneration: current.generation,
      expectedUid: current.uid,
      changes: { status },
      author: { actor: cp.actor, reason: changeReason(status === 'suspended' ? 'suspend' : 'resume', why) },
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

function changeReason(action: string, why: string | undefined): string {
  return why === undefined ? action : `${action}: ${why}`;
}
