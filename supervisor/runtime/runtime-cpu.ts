// A plan's CPU as the kernel's CFS scheduler enforces it: a quota per period, and the larger quota
// a runtime may start with (the start-time boost, docs/cpu-boost.md). Beside the port because both
// the Docker adapter (what a container is made with) and the lifecycle (when a boost ends) use it.

/**
 * The CFS period of every plan's CPU quota: 1 s (the kernel's longest) instead of the engine's
 * default 100 ms. The quota is the plan's share of that period, so a plan's average CPU is what it
 * was; what changes is how long a tenant may run at full speed before it is throttled: a start
 * (Node loading the runtime, CPU-bound for a few hundred ms) runs unthrottled instead of being
 * stopped every 100 ms. What a noisy neighbour gains: within one period it may spend its whole
 * quota at once (plan small: 0.5 CPU-s in a burst, then throttled for the rest of the second)
 * instead of 50 ms in every 100 ms. It gets no more CPU per second, and no priority: where others
 * are runnable, the kernel divides a busy core by equal weights; its neighbours may meet up to half
 * a second of its fair-share contention, then the rest of the second with it throttled.
 * docs/performance-starts.md ("The CPU period") has the measurement.
 */
export const CPU_PERIOD_US = 1_000_000;

/** The engine's CPU quota for a plan: the one value the spec sets and `verify` expects. */
export function cpuLimitFor(plan: { cpus: number }): { CpuPeriod: number; CpuQuota: number } {
  return { CpuPeriod: CPU_PERIOD_US, CpuQuota: Math.round(plan.cpus * CPU_PERIOD_US) };
}

/**
 * The CPU quota a runtime starts with when the supervisor gives it a start-time boost
 * (docs/cpu-boost.md): `boostCpus` per period instead of the plan's share, until the supervisor puts
 * the plan's quota back (the runtime's first health answer, or the boost's deadline). Undefined where
 * there is none: the boost is off, or the plan already has as much. Under gVisor the engine cannot
 * change a running sandbox's quota: the Docker adapter writes it to the sandbox's host cgroup
 * (supervisor/docker/sandbox-cpu.ts).
 */
export function startCpuLimitFor(
  plan: { cpus: number },
  boostCpus: number,
): { CpuPeriod: number; CpuQuota: number } | undefined {
  if (boostCpus <= plan.cpus) return undefined;
  return cpuLimitFor({ cpus: boostCpus });
}
