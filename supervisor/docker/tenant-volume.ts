// A tenant's data volume: its disk (tenant-disk.ts), an ext4 image of its plan's size attached to a
// loop device by a one-shot helper, mounted through a volume that names that device. The volume is
// made only once its device holds the image, so a volume whose device still holds it is ready; one
// whose device does not (a host restart detaches every loop device) is made again on a new attach,
// the data kept in the image. A helper still there marks an attach that a crash or a failure
// interrupted: the next ensure runs it again, before any runtime container mounts the volume
// (docs/lifecycle.md, "The tenant's disk").
import type Docker from 'dockerode';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeSpec } from '../runtime/runtime-driver.ts';
import { volumeInitName, type Placement } from './container-spec.ts';
import { ignoreStatus } from './engine-status.ts';
import { framesText } from './engine-frames.ts';
import { assertOwned } from './engine-ownership.ts';
import {
  attachedDevice,
  attachHelper,
  buildDiskHelperSpec,
  dataVolumeOptions,
  diskVolumeName,
  holdsImage,
} from './tenant-disk.ts';

/** An attach that ran in this ensure: its helper is left to remove, beside the runtime's start. */
export interface VolumeInit {
  removeHelper(): Promise<void>;
}

interface DiskTarget {
  docker: Docker;
  spec: RuntimeSpec;
  placement: Placement;
  /** The image the helper runs: its tools, not the tenant's code (DockerDriverOptions.toolImage). */
  toolImage: string;
}

/** A tenant's disk as the engine and the kernel have it. */
export interface TenantDisk {
  /** Whether it has a data volume. */
  volume: boolean;
  /** The loop device that volume names: none for a volume made before tenants had disks. */
  device?: string;
  /** Whether that device holds the tenant's image now. */
  holdsImage: boolean;
  /**
   * Whether a container may mount the volume as it is: one made before tenants had disks (no
   * device: kept as it was, unbounded, docs/lifecycle.md), or one naming a device that holds the
   * tenant's image now.
   */
  ready: boolean;
}

/** The disk `volume` (the tenant's data volume as inspected, if there is one) mounts. */
async function diskOf(
  volume: Docker.VolumeInspectInfo | undefined,
  placement: Placement,
): Promise<TenantDisk> {
  const device = volume?.Options?.device;
  if (device === undefined)
    return { volume: volume !== undefined, holdsImage: false, ready: volume !== undefined };
  const holds = await holdsImage(device, placement);
  return { volume: true, device, holdsImage: holds, ready: holds };
}

export async function tenantDisk(docker: Docker, placement: Placement): Promise<TenantDisk> {
  return diskOf(await ignoreStatus(docker.getVolume(placement.volumeName).inspect(), 404), placement);
}

/** Runs the helper (made already) to the end: what it printed, or a failure naming its exit. */
export async function runHelper(helper: Docker.Container, tenantId: string, what: string): Promise<string> {
  // 304: already running (another ensure's); an exited one starts again.
  await ignoreStatus(helper.start(), 304);
  const { StatusCode } = (await helper.wait()) as { StatusCode: number };
  const output = framesText(await helper.logs({ stdout: true, stderr: true, follow: false }));
  if (StatusCode !== 0) {
    const last = output.trim().split('\n').at(-1) ?? '';
    throw new BulkheadError('runtime_failed', `disk ${what} for ${tenantId} exited ${StatusCode}: ${last}`);
  }
  return output;
}

/**
 * Until the tenant's data volume exists on its attached disk. Undefined when it was ready; an
 * attach that fails removes its helper (and a data volume naming a device that no longer holds the
 * image, which no container can then use) and throws, keeping the image and so the tenant's data.
 * A container that mounts a volume not ready must be removed first (its volume is made again).
 */
export async function readyTenantVolume(target: DiskTarget): Promise<VolumeInit | undefined> {
  const { docker, spec, placement } = target;
  const helper = docker.getContainer(volumeInitName(placement));
  const volume = docker.getVolume(placement.volumeName);
  // Another installation's helper or volumes under this tenant's names are neither run nor mounted.
  const owner = { namespace: placement.namespace, tenantId: spec.tenantId };
  const look = async () => {
    const [left, found, disk] = await Promise.all([
      ignoreStatus(helper.inspect(), 404),
      ignoreStatus(volume.inspect(), 404),
      ignoreStatus(docker.getVolume(diskVolumeName(placement)).inspect(), 404),
    ]);
    if (left) {
      const name = volumeInitName(placement);
      assertOwned({ kind: 'container', name, labels: left.Config.Labels, helper: true }, owner);
    }
    if (found) assertOwned({ kind: 'volume', name: placement.volumeName, labels: found.Labels }, owner);
    if (disk) assertOwned({ kind: 'volume', name: diskVolumeName(placement), labels: disk.Labels }, owner);
    return { left, found };
  };
  const { left, found } = await look();
  const { ready } = await diskOf(found, placement);
  if (!left && ready) return undefined;
  // A volume whose device no longer holds the image: made again below; 409 if a container still
  // mounts it, which the caller removes first (docker-driver.ts).
  if (found && !ready) await ignoreStatus(volume.remove(), 404);
  if (!left) {
    // 409: a helper made since the look above (another ensure's), waited for below like our own.
    // Or another installation's, whose names collide: looked at again, so that it is not run.
    const made = await ignoreStatus(
      docker.createContainer(buildDiskHelperSpec(attachHelper(spec, placement, target.toolImage))),
      409,
    );
    try {
      await look();
    } catch (error) {
      if (made) await ignoreStatus(made.remove({ force: true }), 404);
      throw error;
    }
  }
  try {
    const device = attachedDevice(await runHelper(helper, spec.tenantId, 'attach'));
    if (!device)
      throw new BulkheadError('runtime_failed', `disk attach for ${spec.tenantId} named no device`);
    await docker.createVolume(dataVolumeOptions(placement, spec.tenantId, device));
    const made = await diskOf(await volume.inspect(), placement);
    if (made.device !== device || !made.ready)
      throw new BulkheadError('runtime_failed', `data volume of ${spec.tenantId} does not mount its disk`);
  } catch (error) {
    await ignoreStatus(helper.remove({ force: true }), 404);
    throw error;
  }
  return { removeHelper: () => ignoreStatus(helper.remove({ force: true }), 404) };
}

/**
 * A helper the reconciler found left behind: removed. An attach it did not finish made no data
 * volume, and its disk is the tenant's data, kept; the next ensure attaches it.
 */
export async function removeLeftoverHelper(docker: Docker, info: Docker.ContainerInspectInfo): Promise<void> {
  await ignoreStatus(docker.getContainer(info.Id).remove({ force: true }), 404);
}
