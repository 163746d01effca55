// Offboarding's purge on the engine: every container of this installation that belongs to the
// tenant (labelled for it, or mounting its data volume: its runtime, a duplicate, a volume-init
// helper; any of them would hold the volume), the data volume and the socket directory. Then a
// second look, which must find none of them: otherwise the purge fails and names what is left, and
// offboarding keeps the tenant's record so that it can run again (docs/lifecycle.md, "Offboarding
// checks what it destroyed"). A container of someone else's that mounts the volume is not ours to
// remove: it is reported.
import { stat } from 'node:fs/promises';
import { removeTree } from './remove-tree.ts';
import type Docker from 'dockerode';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { Placement } from './container-spec.ts';
import { ignoreStatus, statusOf } from './engine-status.ts';
import { LABELS } from './labels.ts';
import { ofInstallation, ownedBy } from './engine-ownership.ts';

interface PurgeTarget {
  docker: Docker;
  tenantId: string;
  placement: Placement;
}

/** Containers that belong to the tenant: labelled for it in this installation, or mounting its volume. */
async function tenantContainers(t: PurgeTarget): Promise<Docker.ContainerInfo[]> {
  const { docker, placement } = t;
  const [labelled, mounting] = await Promise.all([
    docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.managed}=true`,
          `${LABELS.namespace}=${placement.namespace}`,
          `${LABELS.tenant}=${t.tenantId}`,
        ],
      },
    }),
    docker.listContainers({ all: true, filters: { volume: [placement.volumeName] } }),
  ]);
  const byId = new Map([...labelled, ...mounting].map((c) => [c.Id, c]));
  return [...byId.values()];
}

function nameOf(c: Docker.ContainerInfo): string {
  return (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}

/** The volume of the tenant's name, if there is one, and whether its labels say it is the tenant's. */
async function tenantVolume(t: PurgeTarget): Promise<{ ours: boolean } | undefined> {
  const volume = await ignoreStatus(t.docker.getVolume(t.placement.volumeName).inspect(), 404);
  const owner = { namespace: t.placement.namespace, tenantId: t.tenantId };
  return volume && { ours: ownedBy(volume.Labels, owner) };
}

/** What of the tenant is still on this host: none, after a purge that worked. */
async function tenantLeftovers(t: PurgeTarget): Promise<string[]> {
  const { placement } = t;
  const [containers, volume, socketDir] = await Promise.all([
    tenantContainers(t),
    tenantVolume(t),
    stat(placement.socketDir).catch(() => undefined),
  ]);
  return [
    ...containers.map(
      (c) => `container ${nameOf(c)}${ofInstallation(c.Labels, placement.namespace) ? '' : ' (not ours)'}`,
    ),
    ...(volume ? [`data volume ${placement.volumeName}${volume.ours ? '' : ' (not ours)'}`] : []),
    ...(socketDir ? [`socket directory ${placement.socketDir}`] : []),
  ];
}

export async function purgeTenant(t: PurgeTarget): Promise<void> {
  const { docker, placement } = t;
  for (const c of await tenantContainers(t))
    if (ofInstallation(c.Labels, placement.namespace))
      await ignoreStatus(docker.getContainer(c.Id).remove({ force: true }), 404);
  // A volume of the tenant's name that another installation labelled is its tenant's data, not
  // ours to destroy (engine-ownership.ts): the second look names it.
  if ((await tenantVolume(t))?.ours)
    try {
      await docker.getVolume(placement.volumeName).remove();
    } catch (error) {
      // 404: gone already; 409: in use by a container not ours, which the second look names.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  await removeTree(placement.socketDir);
  const left = await tenantLeftovers(t);
  if (left.length > 0)
    throw new BulkheadError('runtime_failed', `the purge of ${t.tenantId} left ${left.join(', ')}`);
}
