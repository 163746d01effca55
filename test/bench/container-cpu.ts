// What tenant containers cost in CPU, from the engine's stats, for the lifecycle benchmark: the time
// a container waited past its plan's CPU quota, and the CPU a burst's containers used. Asserts nothing.
import { availableParallelism } from 'node:os';
import { containerName, tenantContainers } from '../support/mcp-client.ts';
import type { TestStack } from '../support/stack.ts';
import { quantile } from './figures.ts';

/**
 * How long the tenant's container has waited for CPU past its plan's quota so far (the engine's
 * throttling_data, summed over its CPUs; 0 without a running container). The benchmark takes the
 * difference around one call: a start that uses more than the quota of its first period waits for
 * the next.
 */
export async function throttledMs(stack: TestStack, tenant: string): Promise<number> {
  try {
    const stats = await stack.ns.docker.getContainer(containerName(stack, tenant)).stats({ stream: false });
    return (stats.cpu_stats.throttling_data?.throttled_time ?? 0) / 1e6;
  } catch {
    return 0; // no container yet
  }
}

/**
 * The CPU time the burst's containers used (their cgroups' total, read from the engine once every
 * first write is answered: start-up and one write each), and what that alone takes on this
 * machine's cores: a floor under the burst's wall time whatever the scheduling.
 */
export async function printBurstCpu(stack: TestStack, tenants: Set<string>): Promise<void> {
  const ours = (await tenantContainers(stack)).filter((c) => tenants.has(c.tenant) && c.state === 'running');
  const used = await Promise.all(
    ours.map(async (c) => {
      const stats = await stack.ns.docker.getContainer(c.name).stats({ stream: false });
      return stats.cpu_stats.cpu_usage.total_usage / 1e6;
    }),
  );
  if (used.length === 0) return;
  const total = used.reduce((a, b) => a + b, 0);
  const cores = availableParallelism();
  console.log(
    `  CPU of the ${used.length} containers: ${(total / 1000).toFixed(1)} s in all, p50 ` +
      `${quantile(
        [...used].sort((a, b) => a - b),
        0.5,
      ).toFixed(0)} ms each; on ${cores} cores that alone takes ${(total / 1000 / cores).toFixed(1)} s`,
  );
}
