// One stack of the lifecycle benchmark (lifecycle.ts) and what it records of each start: the call's
// time, the supervisor's own 'runtime ready', the container's CPU throttling and the path around the
// start (start-path.ts). A lane may be another checkout's stack (`--before`).
import { Queue, QueueEvents } from 'bullmq';
import { pino, type Logger } from 'pino';
import { RUNTIME_QUEUE } from '../../supervisor/client/runtime-jobs.ts';
import type { Client } from '@modelcontextprotocol/client';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { agentClient } from '../support/mcp-client.ts';
import { startTestStack, TEST_QUOTAS, type TestStack } from '../support/stack.ts';
import type { NanoCpusDocker } from './nanocpus-docker.ts';
import { completionTimes, type Phase } from './start-path.ts';

/** The supervisor's own measure of each start: its 'runtime ready' log line (ms). */
function readyLog(): { logger: Logger; taken: () => number | undefined } {
  const ready: number[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        if (line.includes('"runtime ready"')) ready.push((JSON.parse(line) as { ms: number }).ms);
      },
    },
  );
  return { logger, taken: () => ready.pop() };
}

export interface Lane {
  name: string;
  stack: TestStack;
  /** The runtime queue of the lane's installation: the ensure jobs' timestamps (start-path.ts). */
  jobs: Queue;
  events: QueueEvents;
  completed: ReadonlyMap<string, number>;
  taken: () => number | undefined;
  figures: Record<
    'coldFirst' | 'coldKept' | 'fromStopped' | 'fromPaused',
    { call: number[]; ready: number[]; throttled: number[]; phases: Record<Phase, number>[] }
  >;
}

export async function lane(
  name: string,
  image: string,
  docker?: NanoCpusDocker,
  start: typeof startTestStack = startTestStack,
  /** The start-time CPU boost's settings for this lane's supervisor (docs/cpu-boost.md). */
  boost: { startCpuBoost?: number; startCpuBoostIntervalMs?: number } = {},
): Promise<Lane> {
  const { logger, taken } = readyLog();
  const stack = await start(`bench-${name}`, {
    image,
    logger,
    supervisor: { healthIntervalMs: 3_600_000, createLimit: 4, docker, ...boost },
  });
  const { redis, jobsPrefix } = stack.ns.installation;
  const connection = { connection: { ...redis, maxRetriesPerRequest: null }, prefix: jobsPrefix };
  const jobs = new Queue(RUNTIME_QUEUE, connection);
  const events = new QueueEvents(RUNTIME_QUEUE, connection);
  await events.waitUntilReady();
  const figure = () => ({ call: [], ready: [], throttled: [], phases: [] });
  return {
    name,
    stack,
    jobs,
    events,
    completed: completionTimes(events),
    taken,
    figures: { coldFirst: figure(), coldKept: figure(), fromStopped: figure(), fromPaused: figure() },
  };
}

/** A plan-small tenant whose records tools are open to an agent acting alone. */
export async function registerBenchTenant(
  stack: TestStack,
  id: string,
  isolation: 'runc' | 'gvisor' = 'runc',
): Promise<void> {
  // The small plan's resources, with call budgets the benchmark cannot reach: its loops are not about
  // rate limits, and a refused call (answered by the router alone) would be timed as a fast one.
  // Without diskMb, which the registry of a checkout from before tenants had disks refuses
  // (--before); a plan without it gets the default disk, plan small's size.
  const { diskMb: _disk, ...plan } = planByName('small');
  await stack.registry.create({
    id,
    plan,
    isolation,
    tools: openToAgentsAlone('all'),
    quotas: TEST_QUOTAS,
  });
}

/** A bench tenant (registerBenchTenant) and its agent's client. */
export async function benchTenant(
  stack: TestStack,
  id: string,
  isolation: 'runc' | 'gvisor' = 'runc',
): Promise<Client> {
  await registerBenchTenant(stack, id, isolation);
  return agentClient(stack, id);
}
