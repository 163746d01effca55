// An in-memory RuntimeDriver for unit tests of what sits above the port (the manager, the worker).
// It keeps the same one-runtime-per-tenant rule as the real driver, refuses to ensure over a runtime
// of another spec as the real one does, and records every call (with the tenant it concerned).
import { BulkheadError } from '../../../kernel/errors/bulkhead-error.ts';
import type {
  CpuLimits,
  EnsureOptions,
  OwnedRuntime,
  RemoveOptions,
  RuntimeDriver,
  RuntimeInfo,
  RuntimeSpec,
  RuntimeUsage,
  StopOptions,
} from '../../../supervisor/runtime/runtime-driver.ts';
import { specHash } from '../../../supervisor/runtime/runtime-spec.ts';
import { cpuLimitFor } from '../../../supervisor/runtime/runtime-cpu.ts';

export class MemoryDriver implements RuntimeDriver {
  readonly runtimes = new Map<string, RuntimeInfo>();
  /** Tenants whose data volume exists: made by a first ensure or a prepare, destroyed by a purge. */
  readonly volumes = new Set<string>();
  readonly calls: { op: string; tenantId: string }[] = [];
  private nextId = 1;
  private readonly latencyMs: number;

  /** Simulated engine latency, so that concurrency bugs have a window to show. */
  constructor(latencyMs = 5) {
    this.latencyMs = latencyMs;
  }

  private async tick(op: string, tenantId: string): Promise<void> {
    this.calls.push({ op, tenantId });
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
  }

  async ensure(spec: RuntimeSpec, options: EnsureOptions): Promise<RuntimeInfo> {
    await this.tick('ensure', spec.tenantId);
    this.volumes.add(spec.tenantId);
    const hash = specHash(spec);
    const existing = this.runtimes.get(spec.tenantId);
    if (existing) {
      if (existing.specHash !== hash)
        throw new BulkheadError('runtime_failed', `tenant ${spec.tenantId} has a runtime of another spec`);
      // A start (of a stopped one) takes the boost given; a running or paused one keeps its quota.
      if (existing.state === 'stopped')
        existing.cpuQuota = options.startCpuQuota ?? cpuLimitFor(spec.plan).CpuQuota;
      existing.state = 'running';
      delete existing.exit;
      return { ...existing };
    }
    // A create prepares the socket directory first, as the real driver's does, unless told it was.
    if (!options.socketDirPrepared) this.calls.push({ op: 'prepareSocketDir', tenantId: spec.tenantId });
    const info: RuntimeInfo = {
      tenantId: spec.tenantId,
      runtimeId: `mem-${this.nextId++}`,
      state: 'running',
      specHash: hash,
      generation: options.generation,
      createdAt: new Date().toISOString(),
      endpoint: { kind: 'unix', socketPath: `/memory/${spec.tenantId}/mcp.sock`, uid: spec.uid },
      image: spec.image,
      cpuQuota: options.startCpuQuota ?? cpuLimitFor(spec.plan).CpuQuota,
    };
    this.runtimes.set(spec.tenantId, info);
    return { ...info };
  }

  async prepareVolume(spec: RuntimeSpec): Promise<void> {
    await this.tick('prepareVolume', spec.tenantId);
    this.volumes.add(spec.tenantId);
  }

  async prepareSocketDir(spec: RuntimeSpec): Promise<void> {
    await this.tick('prepareSocketDir', spec.tenantId);
  }

  async stop(tenantId: string, _options: StopOptions): Promise<void> {
    await this.tick('stop', tenantId);
    const info = this.runtimes.get(tenantId);
    if (info) info.state = 'stopped';
  }

  async pause(tenantId: string): Promise<void> {
    await this.tick('pause', tenantId);
    const info = this.runtimes.get(tenantId);
    if (info) info.state = 'paused';
  }

  async resume(info: RuntimeInfo): Promise<RuntimeInfo> {
    await this.tick('resume', info.tenantId);
    const current = this.runtimes.get(info.tenantId);
    if (current) current.state = 'running';
    return { ...info, state: 'running' };
  }

  async inspect(tenantId: string): Promise<RuntimeInfo | undefined> {
    await this.tick('inspect', tenantId);
    const info = this.runtimes.get(tenantId);
    return info && { ...info };
  }

  async list(): Promise<RuntimeInfo[]> {
    await this.tick('list', '*');
    return [...this.runtimes.values()].map((info) => ({ ...info }));
  }

  async remove(tenantId: string, options: RemoveOptions): Promise<void> {
    await this.tick('remove', tenantId);
    this.runtimes.delete(tenantId);
    if (options.purgeData) this.volumes.delete(tenantId);
  }

  async listOwned(): Promise<OwnedRuntime[]> {
    await this.tick('listOwned', '*');
    return [...this.runtimes.values()].map((r) => ({
      runtimeId: r.runtimeId,
      name: r.tenantId,
      tenantId: r.tenantId,
      role: undefined,
      canonical: true,
      createdAtMs: Date.now(),
    }));
  }

  async removeById(runtimeId: string): Promise<void> {
    const owner = [...this.runtimes.values()].find((info) => info.runtimeId === runtimeId);
    await this.tick('removeById', owner?.tenantId ?? runtimeId);
    if (owner) this.runtimes.delete(owner.tenantId);
  }

  async restoreCpu(tenantId: string, limits: CpuLimits): Promise<void> {
    await this.tick('restoreCpu', tenantId);
    const info = this.runtimes.get(tenantId);
    if (info) info.cpuQuota = cpuLimitFor(limits.plan).CpuQuota;
  }

  socketDirExists(tenantId: string): Promise<boolean> {
    return Promise.resolve(this.runtimes.has(tenantId));
  }

  usage(tenantId: string): Promise<RuntimeUsage | undefined> {
    const info = this.runtimes.get(tenantId);
    if (info?.state !== 'running') return Promise.resolve(undefined);
    return Promise.resolve({
      memoryBytes: 0,
      memoryLimitBytes: 0,
      memoryPeakBytes: 0,
      cpuSeconds: 0,
      cpuThrottledSeconds: 0,
      pids: 1,
      pidsLimit: 64,
    });
  }

  /** Test helper: the runtime's process ends as a crash would leave it. */
  crash(tenantId: string, code = 137): void {
    const info = this.runtimes.get(tenantId);
    if (!info) return;
    info.state = 'stopped';
    info.exit = { code, oomKilled: false, finishedAt: new Date().toISOString() };
  }
}
