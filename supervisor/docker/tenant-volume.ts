// A tenant's data volume, made on its runtime's first create and handed to the tenant's UID by a
// one-shot helper container (buildVolumeInitSpec). The helper's create makes the volume (its mount
// carries the volume's labels), and the helper is removed only after it exited 0. So a volume with
// no helper beside it has been initialised, and a helper still there marks an init that a crash or
// a failure interrupted: the next ensure runs it again, before any runtime container exists for
// that volume (docs/lifecycle.md, "The tenant's volume").
import type Docker from 'dockerode';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeSpec } from '../runtime/runtime-driver.ts';
import { buildVolumeInitSpec, volumeInitName, type Placement } from './container-spec.ts';
import { ignoreStatus } from './engine-status.ts';
import { assertOwned } from './engine-ownership.ts';

/** An init that ran in this ensure: its helper is left to remove, beside the runtime's start. */
export interface VolumeInit {
  removeHelper(): Promise<void>;
}

function exitedZero(info: Docker.ContainerInspectInfo | undefined): boolean {
  return info?.State.Status === 'exited' && info.State.ExitCode === 0;
}

/** The helper and, unless another container uses it, the volume it was initialising. */
async function discard(helper: Docker.Container, volume: Docker.Volume): Promise<void> {
  await ignoreStatus(helper.remove({ force: true }), 404);
  await ignoreStatus(volume.remove(), 404, 409);
}

/**
 * Until the tenant's volume exists and its root is the tenant's (0700). Undefined when it already
 * was; a failed init removes the helper and the volume, which no runtime has used yet, and throws,
 * so the next ensure starts from nothing.
 */
export async function readyTenantVolume(options: {
  docker: Docker;
  spec: RuntimeSpec;
  placement: Placement;
}): Promise<VolumeInit | undefined> {
  const { docker, spec, placement } = options;
  const helper = docker.getContainer(volumeInitName(placement));
  const volume = docker.getVolume(placement.volumeName);
  // Another installation's helper or volume under this tenant's names is neither run nor mounted.
  const owner = { namespace: placement.namespace, tenantId: spec.tenantId };
  const look = async () => {
    const [left, found] = await Promise.all([
      ignoreStatus(helper.inspect(), 404),
      ignoreStatus(volume.inspect(), 404),
    ]);
    if (left) {
      const name = volumeInitName(placement);
      assertOwned({ kind: 'container', name, labels: left.Config.Labels, helper: true }, owner);
    }
    if (found) assertOwned({ kind: 'volume', name: placement.volumeName, labels: found.Labels }, owner);
    return { left, found };
  };
  const { left, found } = await look();
  if (!left && found) return undefined;
  if (!left) {
    // 409: a helper made since the look above: another ensure's, waited for below like our own. Or
    // another installation's whose names collide, making its tenant's first volume in the same
    // moment (its helper, or its volume made between the look and this create, which then mounts
    // it): looked at again, so that neither is run, chowned to this tenant's UID nor mounted.
    const made = await ignoreStatus(docker.createContainer(buildVolumeInitSpec(spec, placement)), 409);
    try {
      await look();
    } catch (error) {
      // Ours, mounting the other's volume: removed alone, as a helper left for the reconciler would
      // be removed with the volume it mounts (removeLeftoverHelper).
      if (made) await ignoreStatus(made.remove({ force: true }), 404);
      throw error;
    }
  }
  if (!exitedZero(left)) {
    try {
      // 304: already running (another ensure's); an exited one starts again.
      await ignoreStatus(helper.start(), 304);
      const { StatusCode } = (await helper.wait()) as { StatusCode: number };
      if (StatusCode !== 0)
        throw new BulkheadError('runtime_failed', `volume init for ${spec.tenantId} exited ${StatusCode}`);
    } catch (error) {
      await discard(helper, volume);
      throw error;
    }
  }
  return { removeHelper: () => ignoreStatus(helper.remove({ force: true }), 404) };
}

/**
 * A helper the reconciler found left behind: removed, and with it its volume unless the helper
 * finished (exit 0), since then nothing would mark that volume as never initialised.
 */
export async function removeLeftoverHelper(docker: Docker, info: Docker.ContainerInspectInfo): Promise<void> {
  const helper = docker.getContainer(info.Id);
  const name = info.Mounts.find((m) => m.Type === 'volume')?.Name;
  if (exitedZero(info) || !name) await ignoreStatus(helper.remove({ force: true }), 404);
  else await discard(helper, docker.getVolume(name));
}
