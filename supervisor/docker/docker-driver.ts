// The dockerode RuntimeDriver: one container per tenant on this host, named and labelled so that
// the engine itself refuses a second one (a name conflict) and a restart can adopt what is ours.
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { CONTAINER_SOCKET_NAME } from '../../tenants/contracts/runtime-endpoint.ts';
import type {
  RemoveOptions,
  RuntimeDriver,
  RuntimeInfo,
  RuntimeSpec,
  RuntimeState,
} from '../runtime-driver.ts';
import { buildContainerSpec, buildVolumeInitSpec, specHash, type Placement } from './container-spec.ts';
import { LABELS } from './labels.ts';

export interface DockerDriverOptions {
  docker?: Docker;
  /** Namespace for names and labels: one per installation, and one per test run. */
  namespace: string;
  /** Host directory under which each tenant gets its own socket directory. */
  runDir: string;
  /** Group that may enter socket directories: the router's group (0 when the router runs as root). */
  routerGid: number;
  logger: Logger;
}

interface DockerError {
  statusCode?: number;
}

function statusOf(error: unknown): number | undefined {
  return (error as DockerError | undefined)?.statusCode;
}

function stateOf(inspect: Docker.ContainerInspectInfo): RuntimeState {
  if (inspect.State.Paused) return 'paused';
  if (inspect.State.Running) return 'running';
  if (
    inspect.State.Status === 'exited' ||
    inspect.State.Status === 'created' ||
    inspect.State.Status === 'dead'
  )
    return 'stopped';
  return 'unknown';
}

export class DockerDriver implements RuntimeDriver {
  private readonly docker: Docker;
  private readonly options: DockerDriverOptions;

  constructor(options: DockerDriverOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(options.namespace)) {
      throw new Error(`invalid namespace "${options.namespace}": use 1-31 of a-z, 0-9 and "-"`);
    }
    this.options = options;
    this.docker = options.docker ?? new Docker();
  }

  placement(tenantId: string, generation: number): Placement {
    const base = `bulkhead-${this.options.namespace}-${tenantId}`;
    return {
      namespace: this.options.namespace,
      socketDir: join(this.options.runDir, this.options.namespace, tenantId),
      volumeName: `${base}-data`,
      containerName: base,
      generation,
    };
  }

  async ensure(spec: RuntimeSpec): Promise<RuntimeInfo> {
    const existing = await this.inspectRaw(spec.tenantId);
    let generation = 1;
    if (existing) {
      const current = existing.Config.Labels[LABELS.specHash];
      generation = Number(existing.Config.Labels[LABELS.generation] ?? '0') + 1;
      if (current === specHash(spec)) return this.start(existing);
      this.options.logger.info(
        { tenant: spec.tenantId, from: current, to: specHash(spec) },
        'spec changed: recycling',
      );
      await this.docker.getContainer(existing.Id).remove({ force: true });
    }
    const placement = this.placement(spec.tenantId, generation);
    await this.prepareSocketDir(placement.socketDir, spec.uid);
    await this.ensureVolume(spec, placement);
    try {
      await this.docker.createContainer(buildContainerSpec(spec, placement));
    } catch (error) {
      // 409: another supervisor replica created it first; the engine keeps names unique.
      if (statusOf(error) !== 409) throw error;
    }
    const created = await this.inspectRaw(spec.tenantId);
    if (!created) throw new Error(`container for tenant ${spec.tenantId} vanished after create`);
    return this.start(created);
  }

  async stop(tenantId: string): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (!info) return;
    if (info.State.Paused) await this.docker.getContainer(info.Id).unpause();
    await this.ignoreStatus(this.docker.getContainer(info.Id).stop({ t: 10 }), 304);
  }

  async pause(tenantId: string): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (info?.State.Running && !info.State.Paused) await this.docker.getContainer(info.Id).pause();
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    const info = await this.inspectRaw(tenantId);
    return info ? this.toInfo(info) : undefined;
  }

  async list(): Promise<RuntimeInfo[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: {
        label: [`${LABELS.managed}=true`, `${LABELS.namespace}=${this.options.namespace}`, LABELS.tenant],
      },
    });
    const infos = await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).inspect()));
    return infos.map((info) => this.toInfo(info));
  }

  async remove(tenantId: string, options: RemoveOptions): Promise<void> {
    const info = await this.inspectRaw(tenantId);
    if (info) await this.ignoreStatus(this.docker.getContainer(info.Id).remove({ force: true }), 404);
    if (!options.purgeData) return;
    const placement = this.placement(tenantId, 0);
    await this.ignoreStatus(this.docker.getVolume(placement.volumeName).remove(), 404);
    await rm(placement.socketDir, { recursive: true, force: true });
  }

  private async inspectRaw(tenantId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(this.placement(tenantId, 0).containerName).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async start(info: Docker.ContainerInspectInfo): Promise<RuntimeInfo> {
    const container = this.docker.getContainer(info.Id);
    if (info.State.Paused) await this.ignoreStatus(container.unpause(), 304);
    else if (!info.State.Running) await this.ignoreStatus(container.start(), 304);
    return this.toInfo(await container.inspect());
  }

  private toInfo(info: Docker.ContainerInspectInfo): RuntimeInfo {
    const labels = info.Config.Labels;
    const tenantId = labels[LABELS.tenant] ?? '';
    return {
      tenantId,
      runtimeId: info.Id,
      state: stateOf(info),
      specHash: labels[LABELS.specHash] ?? '',
      generation: Number(labels[LABELS.generation] ?? '0'),
      endpoint: {
        kind: 'unix',
        socketPath: join(this.placement(tenantId, 0).socketDir, CONTAINER_SOCKET_NAME),
      },
      image: info.Config.Image,
    };
  }

  private async prepareSocketDir(dir: string, uid: number): Promise<void> {
    await mkdir(dir, { recursive: true });
    // Owned by the tenant's UID, entered by the router's group, invisible to everyone else.
    await chown(dir, uid, this.options.routerGid);
    await chmod(dir, 0o750);
  }

  private async ensureVolume(spec: RuntimeSpec, placement: Placement): Promise<void> {
    try {
      await this.docker.getVolume(placement.volumeName).inspect();
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    await this.docker.createVolume({
      Name: placement.volumeName,
      Labels: {
        [LABELS.managed]: 'true',
        [LABELS.namespace]: placement.namespace,
        [LABELS.tenant]: spec.tenantId,
      },
    });
    const init = await this.docker.createContainer(buildVolumeInitSpec(spec, placement));
    try {
      await init.start();
      const result = (await init.wait()) as { StatusCode: number };
      if (result.StatusCode !== 0)
        throw new Error(`volume init for ${spec.tenantId} exited ${result.StatusCode}`);
    } finally {
      await this.ignoreStatus(init.remove({ force: true }), 404);
    }
  }

  private async ignoreStatus<T>(promise: Promise<T>, status: number): Promise<T | undefined> {
    try {
      return await promise;
    } catch (error) {
      if (statusOf(error) === status) return undefined;
      throw error;
    }
  }
}
