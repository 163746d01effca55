// Offboarding's purge on the engine: every container of this installation that belongs to the
// tenant (labelled for it, or mounting its data or disk volume: its runtime, a duplicate, a disk
// helper; any of them would hold a volume), the data volume, the disk (its image detached from
// every loop device, then its volume removed, tenant-disk.ts) and the socket directory. Then a
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
import { buildDiskHelperSpec, devicesHolding, diskVolumeName } from './tenant-disk.ts';
import { runHelper } from './tenant-volume.ts';

interface PurgeTarget {
  docker: Docker;
  tenantId: string;
  placement: Placement;
  /** The image the disk helper runs (DockerDriverOptions.toolImage). */
  toolImage: string;
}

/** Containers that belong to the tenant: labelled for it in this installation, or mounting its volume. */
async function tenantContainers(t: PurgeTarget): Promise<Docker.ContainerInfo[]> {
  const { docker, placement } = t;
  const [labelled, mounting, mountingDisk] = await Promise.all([
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
    docker.listContainers({ all: true, filters: { volume: [diskVolumeName(placement)] } }),
  ]);
  const byId = new Map([...labelled, ...mounting, ...mountingDisk].map((c) => [c.Id, c]));
  return [...byId.values()];
}

function nameOf(c: Docker.ContainerInfo): string {
  return (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}

/** The volume of that name, if there is one, and whether its labels say it is the tenant's. */
async function tenantVolume(t: PurgeTarget, name: string): Promise<{ ours: boolean } | undefined> {
  const volume = await ignoreStatus(t.docker.getVolume(name).inspect(), 404);
  const owner = { namespace: t.placement.namespace, tenantId: t.tenantId };
  return volume && { ours: ownedBy(volume.Labels, owner) };
}

/** A volume of the tenant's removed; 404: gone already; 409: in use by a container not ours. */
async function removeVolume(t: PurgeTarget, name: string): Promise<void> {
  if (!(await tenantVolume(t, name))?.ours) return;
  try {
    await t.docker.getVolume(name).remove();
  } catch (error) {
    if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
  }
}

/**
 * Every loop device holding the tenant's image detached (a helper run to its end), then the disk's
 * volume removed; one the helper could not detach keeps the volume, so that the purge run again
 * can try again (the second look names the device).
 */
async function releaseDisk(t: PurgeTarget): Promise<void> {
  const { docker, placement } = t;
  if (!(await tenantVolume(t, diskVolumeName(placement)))?.ours) return;
  const release = { tenantId: t.tenantId, placement, image: t.toolImage, mode: 'release' } as const;
  const helper = await docker.createContainer(buildDiskHelperSpec(release));
  const detached = await runHelper(helper, t.tenantId, 'release').then(
    () => true,
    () => false,
  );
  await ignoreStatus(helper.remove({ force: true }), 404);
  if (detached) await removeVolume(t, diskVolumeName(placement));
}

/** What of the tenant is still on this host: none, after a purge that worked. */
async function tenantLeftovers(t: PurgeTarget): Promise<string[]> {
  const { placement } = t;
  const [containers, volume, disk, devices, socketDir] = await Promise.all([
    tenantContainers(t),
    tenantVolume(t, placement.volumeName),
    tenantVolume(t, diskVolumeName(placement)),
    devicesHolding(placement),
    stat(placement.socketDir).catch(() => undefined),
  ]);
  return [
    ...containers.map(
      (c) => `container ${nameOf(c)}${ofInstallation(c.Labels, placement.namespace) ? '' : ' (not ours)'}`,
    ),
    ...(volume ? [`data volume ${placement.volumeName}${volume.ours ? '' : ' (not ours)'}`] : []),
    ...(disk ? [`disk volume ${diskVolumeName(placement)}${disk.ours ? '' : ' (not ours)'}`] : []),
    ...devices.map((device) => `loop device ${device}`),
    ...(socketDir ? [`socket directory ${placement.socketDir}`] : []),
  ];
}

export async function purgeTenant(t: PurgeTarget): Promise<void> {
  const { docker, placement } = t;
  for (const c of await tenantContainers(t))
    if (ofInstallation(c.Labels, placement.namespace))
      await ignoreStatus(docker.getContainer(c.Id).remove({ force: true }), 404);
  // A volume of the tenant's name that another installation labelled is its tenant's data, not
  // ours to destroy (engine-ownership.ts); one in use by a container not ours is not removed: the
  // second look names either. The data volume first: its mount holds the disk.
  await removeVolume(t, placement.volumeName);
  await releaseDisk(t);
  await removeTree(placement.socketDir);
  const left = await tenantLeftovers(t);
  if (left.length > 0)
    throw new BulkheadError('runtime_failed', `the purge of ${t.tenantId} left ${left.join(', ')}`);
}
