// The baseline of the CPU period (supervisor/runtime/runtime-cpu.ts, CPU_PERIOD_US): an engine
// client that creates tenant containers with the same CPU share as NanoCpus, which the engine turns
// into a quota per its default 100 ms period, as containers were made before. Benchmarks only: the
// two periods take turns in one run, so each figure has its baseline from the same minutes.
import Docker from 'dockerode';

export class NanoCpusDocker extends Docker {
  /** Off: containers are created exactly as the supervisor specified them. */
  nanoCpus = true;

  override createContainer(options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const host = options.HostConfig;
    if (!this.nanoCpus || !host?.CpuQuota || !host.CpuPeriod) return super.createContainer(options);
    const { CpuQuota, CpuPeriod, ...rest } = host;
    const share = CpuQuota / CpuPeriod;
    return super.createContainer({ ...options, HostConfig: { ...rest, NanoCpus: Math.round(share * 1e9) } });
  }
}
