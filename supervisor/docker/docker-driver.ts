// The dockerode RuntimeDriver: one container per tenant on this host, named and labelled so that
// the engine itself refuses a second one (a name conflict) and a restart can adopt what is ours.
// A plain adapter: it makes, starts, stops and removes what the lifecycle controller tells it to,
// and decides nothing (reuse or replace, drain time, the create cap are the controller's).
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { removeEntry, removeTree } from './remove-tree.ts';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { CONTAINER_SOCKET_NAME, tenantSocketDir } from '../../kernel/wire/runtime-endpoint.ts';
import { EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import type {
  CpuLimits,
  EnsureOptions,
  OwnedRuntime,
  PausedBy,
  RemoveOptions,
  RuntimeDriver,
  RuntimeInfo,
  RuntimeSpec,
  RuntimeState,
  RuntimeUsage,
  StopOptions,
} from '../runtime/runtime-driver.ts';
import { containerUsage } from './container-usage.ts';
import { ignoreStatus, statusOf, vanished } from './engine-status.ts';
import { RuntimeFreezer } from './runtime-freezer.ts';
import { boostSandboxCpu, engineStartQuota, liveSandboxQuota, restoreSandboxCpu } from './sandbox-cpu.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { buildContainerSpec, containerDefaultsHash, runtimeName, type Placement } from './container-spec.ts';
import { cpuLimitFor } from '../runtime/runtime-cpu.ts';
import { socketListening } from '../runtime/health-probe.ts';
import { LABELS } from './labels.ts';
import { assertOwned } from './engine-ownership.ts';
import { purgeTenant } from './tenant-purge.ts';
import { readyTenantVolume, removeLeftoverHelper, tenantDisk, type TenantDisk } from './tenant-volume.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { deliverSecrets, secretsFile } from './secrets-delivery.ts';

export interface DockerDriverOptions {
  docker?: Docker;
  /** Namespace for names and labels: one per installation, and one per test run. */
  namespace: string;
  /** Host directory under which each tenant gets its own socket directory. */
  runDir: string;
  /** Group that may enter socket directories: the router's group (0 when the router runs as root). */
  routerGid: number;
  logger: Logger;
  /**
   * The image a tenant's disk helper runs (tenant-disk.ts): the supervisor's runtime image, whose
   * tools are the operator's, never a tenant's image with its packs' files.
   */
  toolImage: string;
}

function stateOf(inspect: Docker.ContainerInspectInfo, pausedBy: PausedBy | undefined): RuntimeState {
  if (pausedBy) return 'paused';
  if (inspect.State.Running) return 'running';
  if (['exited', 'created', 'dead'].includes(inspect.State.Status)) return 'stopped';
  return 'unknown';
}

/**
 * The container's spec hash as the lifecycle compares it with its tenant's spec: none for a
 * container built with other defaults than this code's (an older supervisor's), so it is taken for
 * one of another spec and replaced, never reused.
 */
function currentSpecHash(inspect: Docker.ContainerInspectInfo): string {
  const labels = inspect.Config.Labels;
  const isolation = inspect.HostConfig.Runtime === runtimeName('gvisor') ? 'gvisor' : 'runc';
  return labels[LABELS.defaults] === containerDefaultsHash(isolation) ? (labels[LABELS.specHash] ?? '') : '';
}

export class DockerDriver implements RuntimeDriver {
  private readonly docker: Docker;
  private readonly options: DockerDriverOptions;
  private readonly freezer = new RuntimeFreezer();

  constructor(options: DockerDriverOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(options.namespace)) {
      throw new BulkheadError(
        'invalid_config',
        `invalid namespace "${options.namespace}": use 1-31 of a-z, 0-9 and "-"`,
      );
    }
    this.options = options;
    this.docker = options.docker ?? new Docker();
  }

  placement(tenantId: string, generation: number): Placement {
    const base = `bulkhead-${this.options.namespace}-${tenantId}`;
    return {
      namespace: this.options.namespace,
      socketDir: tenantSocketDir(this.options.runDir, this.options.namespace, tenantId),
      volumeName: `${base}-data`,
      containerName: base,
      generation,
    };
  }

  async ensure(spec: RuntimeSpec, options: EnsureOptions): Promise<RuntimeInfo> {
    const existing = await this.inspectRaw(spec.tenantId);
    if (existing) {
      if (currentSpecHash(existing) !== specHash(spec))
        throw new BulkheadError(
          'runtime_failed',
          `tenant ${spec.tenantId} has a runtime of another spec: remove it before ensuring this one`,
        );
      // A stopped one mounts its disk again at its start: not on a loop device that no longer
      // holds the tenant's image (after a host restart), which is attached again with a new
      // volume, which takes a new container.
      if (existing.State.Running || (await this.disk(spec.tenantId)).ready)
        return this.startNow(existing, spec, options);
      await ignoreStatus(this.docker.getContainer(existing.Id).remove({ force: true }), 404);
    }
    const placement = this.placement(spec.tenantId, options.generation);
    if (!options.socketDirPrepared) await this.prepareSocketDir(spec);
    // The data volume first, on its attached disk: a runtime container never exists beside a
    // volume whose disk is not attached (tenant-volume.ts).
    const init = await readyTenantVolume({
      docker: this.docker,
      spec,
      placement,
      toolImage: this.options.toolImage,
    });
    try {
      const start = { startCpuQuota: engineStartQuota(spec.isolation, options.startCpuQuota) };
      await this.docker.createContainer(buildContainerSpec(spec, placement, start));
    } catch (error) {
      // 409: another supervisor replica created it first; the engine keeps names unique.
      if (statusOf(error) !== 409) throw error;
    }
    const removal = init
      ?.removeHelper()
      .catch((error: unknown) =>
        this.options.logger.warn({ tenant: spec.tenantId, err: error }, 'volume init helper not removed'),
      );
    try {
      const created = await this.inspectRaw(spec.tenantId);
      if (!created) throw vanished(spec.tenantId, 'after create');
      return await this.startNow(created, spec, options);
    } finally {
      await removal;
    }
  }

  /** The tenant's data volume made on its attached disk, no container: what a first start does first. */
  async prepareVolume(spec: RuntimeSpec): Promise<void> {
    const init = await readyTenantVolume({
      docker: this.docker,
      spec,
      placement: this.placement(spec.tenantId, 0),
      toolImage: this.options.toolImage,
    });
    await init?.removeHelper();
  }

  /** The tenant's disk as the engine and the kernel have it (tenant-volume.ts, `tenantDisk`). */
  disk(tenantId: string): Promise<TenantDisk> {
    return tenantDisk(this.docker, this.placement(tenantId, 0));
  }

  async stop(tenantId: string, options: StopOptions): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (info) await this.stopContainer(info, options.graceSeconds);
    // A runtime that died before reading its secrets leaves them behind: not while it is stopped.
    await removeEntry(secretsFile(this.placement(tenantId, 0).socketDir));
  }

  /**
   * A frozen process cannot take SIGTERM: thaw first, then stop with the grace given. Removed since
   * it was inspected: nothing left to stop (a removal then finds it gone, as its 404 says), whether
   * the thaw or the stop itself finds it gone (the engine's 404 to the stop).
   */
  private async stopContainer(info: Docker.ContainerInspectInfo, graceSeconds: number): Promise<void> {
    if ((await this.thawIfFrozen(info)) === 'gone') return;
    if (info.State.Running) {
      await ignoreStatus(this.docker.getContainer(info.Id).stop({ t: graceSeconds }), 304, 404);
    }
  }

  /** Freezes the running process (`runtime-freezer.ts`: in its host cgroup where reachable). */
  async pause(tenantId: string): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (info?.State.Running && !(await this.freezer.pausedBy(info)))
      await this.freezer.freeze(this.docker.getContainer(info.Id), info);
  }

  async resume(info: RuntimeInfo): Promise<RuntimeInfo> {
    const thawed = await this.freezer.thaw(
      this.docker.getContainer(info.runtimeId),
      info.pausedBy ?? 'engine',
    );
    if (thawed === 'gone') throw vanished(info.tenantId, 'before its wake');
    const { pausedBy: _thawed, ...rest } = info;
    return { ...rest, state: 'running' };
  }

  /** Who keeps the container frozen (`runtime-freezer.ts`), or undefined. */
  pausedBy(info: Docker.ContainerInspectInfo): Promise<PausedBy | undefined> {
    return this.freezer.pausedBy(info);
  }

  /** Thawed (or not frozen), or `gone`: removed since `info` was read (runtime-freezer.ts). */
  private async thawIfFrozen(info: Docker.ContainerInspectInfo): Promise<'thawed' | 'gone'> {
    const by = await this.pausedBy(info);
    return by ? this.freezer.thaw(this.docker.getContainer(info.Id), by) : 'thawed';
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    const info = await this.inspectRaw(tenantId);
    return info ? await this.toInfo(info) : undefined;
  }

  async list(): Promise<RuntimeInfo[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: {
        label: [`${LABELS.managed}=true`, `${LABELS.namespace}=${this.options.namespace}`, LABELS.tenant],
      },
    });
    const infos = await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).inspect()));
    this.freezer.keepOnly(infos.map((info) => info.Id));
    return Promise.all(
      infos.map(async (info) => {
        // A sandbox's quota as the kernel enforces it: a boost lives in its cgroup alone (sandbox-cpu.ts).
        const live = await liveSandboxQuota(info);
        return { ...(await this.toInfo(info)), ...(live ? { cpuQuota: live } : {}) };
      }),
    );
  }

  async remove(tenantId: string, options: RemoveOptions): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (info) {
      // Drain: SIGTERM lets the runtime stop accepting and finish the calls in flight.
      if (options.drainSeconds !== undefined) await this.stopContainer(info, options.drainSeconds);
      await ignoreStatus(this.docker.getContainer(info.Id).remove({ force: true }), 404);
    }
    if (options.purgeData)
      await purgeTenant({
        docker: this.docker,
        tenantId,
        placement: this.placement(tenantId, 0),
        toolImage: this.options.toolImage,
      });
  }

  /** The tenant's container, by its name; one of that name that is not ours is refused (engine-ownership.ts). */
  private async inspectRaw(tenantId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    const name = this.placement(tenantId, 0).containerName;
    const info = await ignoreStatus(this.docker.getContainer(name).inspect(), 404);
    if (info) {
      const owner = { namespace: this.options.namespace, tenantId };
      assertOwned({ kind: 'container', name, labels: info.Config.Labels }, owner);
    }
    return info;
  }

  private async startNow(
    info: Docker.ContainerInspectInfo,
    spec: RuntimeSpec,
    options: EnsureOptions,
  ): Promise<RuntimeInfo> {
    const container = this.docker.getContainer(info.Id);
    const starts = !info.State.Running;
    if (!starts) {
      if ((await this.thawIfFrozen(info)) === 'gone') throw vanished(spec.tenantId, 'before its thaw');
    } else {
      // A crash leaves the old sockets behind (the runtime's and its egress bridge's); under gVisor
      // the runtime may not unlink a host socket.
      const socketDir = this.placement(spec.tenantId, 0).socketDir;
      const prepare = async (): Promise<void> => {
        for (const name of [CONTAINER_SOCKET_NAME, EGRESS_SOCKET_NAME])
          await removeEntry(join(socketDir, name));
        await deliverSecrets(socketDir, spec.uid, (await options.secrets?.()) ?? {});
      };
      // This start's quota: its boost (a gVisor sandbox's goes to its cgroup after the start), else
      // the plan's (a boost a dead supervisor left is not started with). A container made with
      // NanoCpus (before the 1 s period) keeps that share: the engine refuses a period beside it.
      const plan = cpuLimitFor(spec.plan);
      const quota = engineStartQuota(spec.isolation, options.startCpuQuota) ?? plan.CpuQuota;
      const update =
        info.HostConfig.CpuQuota !== quota && !info.HostConfig.NanoCpus
          ? container.update({ ...plan, CpuQuota: quota })
          : undefined;
      await Promise.all([prepare(), update]);
      await ignoreStatus(container.start(), 304);
    }
    const now = await container.inspect();
    if (starts && spec.isolation === 'gvisor' && options.startCpuQuota !== undefined)
      await boostSandboxCpu(now, options.startCpuQuota, this.options.logger);
    return await this.toInfo(now);
  }

  async listOwned(): Promise<OwnedRuntime[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`, `${LABELS.namespace}=${this.options.namespace}`] },
    });
    return containers.map((c) => {
      const tenantId = c.Labels[LABELS.tenant];
      const name = (c.Names[0] ?? '').replace(/^\//, '');
      return {
        runtimeId: c.Id,
        name,
        tenantId,
        role: c.Labels[LABELS.role],
        canonical: tenantId !== undefined && name === this.placement(tenantId, 0).containerName,
        createdAtMs: c.Created * 1000,
      };
    });
  }

  async removeById(runtimeId: string): Promise<void> {
    const container = this.docker.getContainer(runtimeId);
    const info = await ignoreStatus(container.inspect(), 404);
    if (!info) return;
    if (info.Config.Labels[LABELS.role] === 'volume-init') return removeLeftoverHelper(this.docker, info);
    await ignoreStatus(container.remove({ force: true }), 404);
  }

  async restoreCpu(tenantId: string, limits: CpuLimits): Promise<void> {
    const plan = cpuLimitFor(limits.plan);
    // A gVisor boost is in the sandbox's cgroup, which the engine cannot update (sandbox-cpu.ts).
    if (limits.isolation === 'gvisor') {
      const info = await this.inspectRaw(tenantId);
      return info ? restoreSandboxCpu(info, plan.CpuQuota) : undefined;
    }
    // By name: a boost's end may reach a newer container of the tenant, which only ends its boost
    // early. 404: no container (removed meanwhile), nothing to restore.
    const name = this.placement(tenantId, 0).containerName;
    await ignoreStatus(this.docker.getContainer(name).update(plan), 404);
  }

  async socketDirExists(tenantId: string): Promise<boolean> {
    try {
      return (await stat(this.placement(tenantId, 0).socketDir)).isDirectory();
    } catch {
      return false;
    }
  }

  async usage(tenantId: string): Promise<RuntimeUsage | undefined> {
    const info = await this.inspectRaw(tenantId);
    return info?.State.Running ? containerUsage(this.docker.getContainer(info.Id), info) : undefined;
  }

  private async toInfo(info: Docker.ContainerInspectInfo): Promise<RuntimeInfo> {
    const labels = info.Config.Labels;
    const tenantId = labels[LABELS.tenant] ?? '';
    const pausedBy = await this.freezer.pausedBy(info);
    return {
      tenantId,
      runtimeId: info.Id,
      state: stateOf(info, pausedBy),
      ...(pausedBy ? { pausedBy } : {}),
      specHash: currentSpecHash(info),
      generation: Number(labels[LABELS.generation] ?? '0'),
      endpoint: {
        kind: 'unix',
        socketPath: join(this.placement(tenantId, 0).socketDir, CONTAINER_SOCKET_NAME),
        // The container's own UID ("uid:gid"): under runc the runtime binds the socket as that UID;
        // under gVisor the gofer creates the host socket and gives it the sandbox user's UID.
        uid: Number(info.Config.User.split(':')[0]),
      },
      image: info.Config.Image,
      createdAt: info.Created,
      oomKilled: info.State.OOMKilled,
      cpuQuota: info.HostConfig.CpuQuota ?? 0,
      ...(info.State.Running
        ? {}
        : {
            exit: {
              code: info.State.ExitCode,
              oomKilled: info.State.OOMKilled,
              finishedAt: info.State.FinishedAt,
            },
          }),
    };
  }

  async prepareSocketDir(spec: RuntimeSpec): Promise<void> {
    const dir = this.placement(spec.tenantId, 0).socketDir;
    // A runtime listens: one another supervisor started after this one looked (a late engine
    // answer). Left alone (emptied, its socket is gone for good), the create that follows adopts it.
    const socketPath = join(dir, CONTAINER_SOCKET_NAME);
    if (await socketListening({ kind: 'unix', socketPath, uid: spec.uid }).catch(() => false)) return;
    // Emptied before every start (outside the create cap, docs/lifecycle.md): what a runtime left
    // (a stale socket, a symlink, file or FIFO a compromised one planted) must not greet the next.
    // No process of the tenant runs now, and nothing here follows a symlink (remove-tree.ts).
    await removeTree(dir);
    await mkdir(dir, { recursive: true });
    // Owned by the tenant's UID, entered by the router's group, invisible to everyone else.
    await chown(dir, spec.uid, this.options.routerGid);
    await chmod(dir, 0o750);
  }
}
