// A running container's memory, CPU and PIDs as the engine and the kernel count them: what the
// metrics and the health pass's limit checks read.
import type Docker from 'dockerode';
import type { RuntimeUsage } from '../runtime/runtime-driver.ts';
import { readPidsCgroup } from './cgroup-pids.ts';

export async function containerUsage(
  container: Docker.Container,
  info: Docker.ContainerInspectInfo,
): Promise<RuntimeUsage> {
  // one-shot (API 1.41): one sample, no 1-second wait for a second one.
  const stats = (await container.stats({ stream: false, 'one-shot': true } as {
    stream: false;
  })) as unknown as {
    memory_stats?: { usage?: number; max_usage?: number; limit?: number; stats?: { cache?: number } };
    cpu_stats?: { cpu_usage?: { total_usage?: number }; throttling_data?: { throttled_time?: number } };
    pids_stats?: { current?: number; limit?: number };
  };
  const memory = stats.memory_stats;
  return {
    // cgroup v1 counts page cache in usage; the working set is what the limit bites on.
    memoryBytes: Math.max(0, (memory?.usage ?? 0) - (memory?.stats?.cache ?? 0)),
    memoryLimitBytes: memory?.limit ?? info.HostConfig.Memory ?? 0,
    memoryPeakBytes: memory?.max_usage ?? 0,
    cpuSeconds: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9,
    cpuThrottledSeconds: (stats.cpu_stats?.throttling_data?.throttled_time ?? 0) / 1e9,
    pids: stats.pids_stats?.current ?? 0,
    pidsLimit: stats.pids_stats?.limit ?? info.HostConfig.PidsLimit ?? 0,
    pidsRefused: info.State.Pid > 0 ? (await readPidsCgroup(info.State.Pid, info.Id))?.refused : undefined,
  };
}
