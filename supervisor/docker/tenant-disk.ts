// A tenant's disk: an ext4 filesystem image of its plan's size, in a volume of its own, attached to a
// loop device and mounted as the tenant's data volume (`type=ext4`, `device=/dev/loopN`). The image
// bounds what the tenant's runtime can write: past it, its writes end in ENOSPC, and the host's
// filesystem, which every tenant and the control plane share, keeps its space. The supervisor holds
// the engine's socket, not CAP_SYS_ADMIN, so a one-shot helper container makes, formats and attaches
// the image (buildDiskHelperSpec); the supervisor reads the loop device it names from its output
// (docs/lifecycle.md, "The tenant's disk").
import { readFile, readdir } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { Plan } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeSpec } from '../runtime/runtime-driver.ts';
import { TENANT_CGROUP_PARENT, volumeInitName, type Placement } from './container-spec.ts';
import { LABELS } from './labels.ts';

/** A plan that names no disk size (one written before plans had one) gets this. */
export const DEFAULT_DISK_MB = 256;

export function diskMbOf(plan: Pick<Plan, 'diskMb'>): number {
  return plan.diskMb ?? DEFAULT_DISK_MB;
}

/** Where the disk helper mounts the tenant's disk volume. */
const DISK_DIR = '/disk';

/** The volume holding the tenant's filesystem image; the image's file name in it. */
export function diskVolumeName(placement: Placement): string {
  return `${placement.containerName}-disk`;
}
export function diskImageName(placement: Placement): string {
  return `${placement.volumeName}.img`;
}

// The loop driver's name for /dev/loop-control (char 10:237) and every loop device (block 7).
const LOOP_DEVICES = ['c 10:237 rwm', 'b 7:* rwm'];

// `attach`: made and formatted once (the image is renamed into place only once formatted, so an
// image there is a whole filesystem), the root handed to the tenant's UID with mode 0700, then
// attached unless a loop device holds it already (losetup -j matches by device and inode, so an
// image is never attached twice, which would mount one filesystem twice). `release`: every loop
// device holding the image detached, then none left. Arguments: the image, its size in bytes, the
// UID. Nothing of the tenant runs here: only the image's own tools, on the tenant's image file.
const SCRIPTS = {
  attach: `set -eu
img="${DISK_DIR}/$1"
if [ ! -e "$img" ]; then
  rm -f "$img.new"
  truncate -s "$2" "$img.new"
  mkfs.ext4 -q -F -m 0 -E root_owner="$3:$3" "$img.new"
  debugfs -w -R 'sif <2> mode 040700' "$img.new" 2>/dev/null
  mv "$img.new" "$img"
fi
dev=$(losetup -j "$img" -n -O NAME | head -n 1)
if [ -z "$dev" ]; then dev=$(losetup --find --show "$img"); fi
echo "device=$dev"`,
  release: `set -eu
img="${DISK_DIR}/$1"
if [ -e "$img" ]; then
  for dev in $(losetup -j "$img" -n -O NAME); do losetup -d "$dev"; done
  test -z "$(losetup -j "$img" -n -O NAME)"
fi`,
} as const;

/** What the disk helper is run for: to make and attach a tenant's disk, or to release it. */
export type DiskHelper = { tenantId: string; placement: Placement; image: string } & (
  { mode: 'attach'; uid: number; diskMb: number } | { mode: 'release' }
);

/** The helper that attaches the disk a tenant's spec calls for. */
export function attachHelper(spec: RuntimeSpec, placement: Placement, image: string): DiskHelper {
  return {
    tenantId: spec.tenantId,
    placement,
    image,
    mode: 'attach',
    uid: spec.uid,
    diskMb: diskMbOf(spec.plan),
  };
}

/**
 * The disk helper: root with CAP_SYS_ADMIN (loop devices take it) and, of the host's devices, only
 * the loop devices and their control device; no network, a read-only root, the tenant's disk volume
 * (made by this create, labelled as the tenant's) and no other. Named as the volume-init helper
 * was (one at a time per tenant, the engine keeps names unique): one still there marks an attach
 * that did not finish.
 */
export function buildDiskHelperSpec(options: DiskHelper): Docker.ContainerCreateOptions {
  const { placement } = options;
  const args = options.mode === 'attach' ? [String(options.diskMb * 1024 * 1024), String(options.uid)] : [];
  return {
    name: volumeInitName(placement),
    Image: options.image,
    User: '0:0',
    Entrypoint: ['/bin/sh', '-c', SCRIPTS[options.mode], 'disk', diskImageName(placement), ...args],
    Cmd: [],
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.namespace]: placement.namespace,
      [LABELS.role]: 'volume-init',
    },
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: ['SYS_ADMIN'],
      SecurityOpt: ['no-new-privileges:true'],
      CgroupParent: TENANT_CGROUP_PARENT,
      // The host's /dev, where the kernel makes the loop device it hands out; the cgroup lets the
      // helper open the loop devices alone of them.
      ...({ DeviceCgroupRules: LOOP_DEVICES } as Record<string, string[]>),
      Mounts: [
        { Type: 'bind', Source: '/dev', Target: '/dev', ReadOnly: false },
        {
          Type: 'volume',
          Source: diskVolumeName(placement),
          Target: DISK_DIR,
          ReadOnly: false,
          VolumeOptions: {
            NoCopy: true,
            Labels: {
              [LABELS.managed]: 'true',
              [LABELS.namespace]: placement.namespace,
              [LABELS.tenant]: options.tenantId,
            },
          } as unknown as NonNullable<NonNullable<Docker.HostConfig['Mounts']>[number]['VolumeOptions']>,
        },
      ],
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '64k', 'max-file': '1' } },
    },
  };
}

/** The data volume's create: the attached image, mounted as ext4 where the runtime keeps its data. */
export function dataVolumeOptions(
  placement: Placement,
  tenantId: string,
  device: string,
): Docker.VolumeCreateOptions {
  return {
    Name: placement.volumeName,
    Driver: 'local',
    DriverOpts: { type: 'ext4', device },
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.namespace]: placement.namespace,
      [LABELS.tenant]: tenantId,
    },
  };
}

/** The loop device an attach printed (its last, since a helper started again keeps its earlier output). */
export function attachedDevice(output: string): string | undefined {
  return [...output.matchAll(/^device=(\/dev\/loop\d+)$/gm)].at(-1)?.[1];
}

const SYS_BLOCK = '/sys/block';

/**
 * Whether `device` holds the tenant's image now. The kernel names a loop device's file by its path
 * inside the volume the helper mounted (`/<image>`), which carries the namespace and the tenant, so
 * a device that a host restart freed, or that holds another tenant's image since, is never taken
 * for this one's. Read from sysfs, which the supervisor sees in a container as on the host.
 */
export async function holdsImage(device: string, placement: Placement): Promise<boolean> {
  const name = /^\/dev\/(loop\d+)$/.exec(device)?.[1];
  if (!name) return false;
  const file = await readFile(`${SYS_BLOCK}/${name}/loop/backing_file`, 'utf8').catch(() => '');
  return file.trim() === `/${diskImageName(placement)}`;
}

/** Every loop device holding the tenant's image: none once its disk is released. */
export async function devicesHolding(placement: Placement): Promise<string[]> {
  const names = (await readdir(SYS_BLOCK).catch(() => [])).filter((n) => /^loop\d+$/.test(n));
  const held = await Promise.all(names.map((n) => holdsImage(`/dev/${n}`, placement)));
  return names.filter((_, i) => held[i]).map((n) => `/dev/${n}`);
}
