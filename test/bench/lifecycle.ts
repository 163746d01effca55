// Benchmark (not a test): the tenant runtime lifecycle through the full stack on the real engine.
// Prints p50/p95 for cold start, wake from stopped, wake from paused and warm calls (with the warm
// overhead against calling the container's socket directly), a burst of cold tenants, and idle
// memory of one tenant container and of a supervisor process with N tenants running (a second
// supervisor that adopts them: it prints how many it recycled, 0 when its spec matches). Asserts
// nothing; every loop is bounded; everything it creates lives in its own namespace and is removed.
// With --baseline-image a second stack runs that image, and the lifecycle rounds alternate between
// the two stacks, so each start figure is printed beside its baseline from the same minutes; each
// start is also shown as the supervisor logged it ('runtime ready'), the rest of a call's time
// being the router's (authentication, the ensure's round trip through BullMQ, the call itself).
// `--baseline-nanocpus` makes that second stack (the same image unless --baseline-image names
// another) create containers with the plan's CPU share at the engine's default 100 ms period, as
// before supervisor/runtime/runtime-cpu.ts's CPU_PERIOD_US.
// `--baseline-no-boost` makes that second stack (the same image unless --baseline-image names another)
// create and start containers without the start-time CPU boost (docs/cpu-boost.md); otherwise both
// stacks boost every start (not only a tenant's first in a minute, the supervisor's default), each
// row being a start.
// `--before DIR` adds another checkout's (e.g. main's) whole stack as a lane of the lifecycle
// rounds (same image), and its dispatcher and its whole stack (raw HTTP to its router), their warm
// writes taking turns with this tree's, as the baseline of the same run. Each start row is followed
// by the path around the start, phase by phase (start-path.ts).
// `--burst-rounds N` runs the burst N times per stack, the stacks' order alternating (ABBA...), with
// tenants new to each burst. After each burst, the CPU time its containers used and what that alone
// takes on this machine's cores: a floor under the burst's wall time.
//   node test/bench/lifecycle.ts [--rounds 10] [--burst 50] [--burst-rounds 1] [--fleet 100] [--isolation runc|gvisor]
//     [--baseline-image bulkhead/runtime:latest] [--baseline-nanocpus] [--baseline-no-boost] [--before DIR]
import { printFigures, quantile } from './figures.ts';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { agentClient, write, type WriteOutcome } from '../support/mcp-client.ts';
import { printBurstCpu, throttledMs } from './container-cpu.ts';
import { measureWarmWrites, succeeded } from './warm-writes.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
import type { startTestStack } from '../support/stack.ts';
import { type TestStack } from '../support/stack.ts';
import { NanoCpusDocker } from './nanocpus-docker.ts';
import { lane, registerBenchTenant, type Lane } from './lifecycle-lane.ts';
import { printPhases, StartPath } from './start-path.ts';
import { benchArgs, isolationArg } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    rounds: { type: 'string', default: '10' },
    burst: { type: 'string', default: '50' },
    'burst-rounds': { type: 'string', default: '1' },
    fleet: { type: 'string', default: '100' },
    isolation: { type: 'string', default: 'runc' },
    'baseline-image': { type: 'string' },
    'baseline-nanocpus': { type: 'boolean', default: false },
    'baseline-no-boost': { type: 'boolean', default: false },
    before: { type: 'string' },
  },
});
const ISOLATION = isolationArg(values.isolation);
const ROUNDS = Math.min(50, Number(values.rounds));
const BURST = Math.min(100, Number(values.burst));
const BURST_ROUNDS = Math.min(6, Number(values['burst-rounds']));
const FLEET = Math.min(150, Number(values.fleet));

function stats(label: string, samples: number[], extra = ''): number {
  return printFigures(label, samples, { digits: 2, labelWidth: 62, extra });
}
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const load = (): string =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const register = (stack: TestStack, id: string): Promise<void> => registerBenchTenant(stack, id, ISOLATION);

/** Tier changes exactly as the idle reaper makes them: epoch first, then the engine. */
async function toTier(stack: TestStack, tenant: string, tier: 'pause' | 'stop'): Promise<void> {
  if (!(await stack.supervisor.manager.idle(tenant, { event: tier })))
    throw new Error(`${tenant} could not ${tier}`);
  await sleep(600); // longer than the router's route freshness, as the reaper's idle time would be
}

const path = new StartPath();

/** One round of the lifecycle on one stack: first start, cold start, wake from stopped and paused. */
async function lifecycleRound(l: Lane, i: number): Promise<void> {
  const { stack, figures } = l;
  const id = `life-${i}`;
  await register(stack, id);
  const client = await agentClient(stack, id);
  const measure = async (into: Lane['figures']['coldFirst'], title: string): Promise<void> => {
    l.taken();
    const before = await throttledMs(stack, id);
    path.begin();
    into.call.push(succeeded(await write(client, title)).ms);
    into.phases.push(await path.phases(l.jobs, l.completed, id));
    into.ready.push(l.taken() ?? NaN);
    into.throttled.push((await throttledMs(stack, id)) - before);
  };
  await measure(figures.coldFirst, 'first');
  await stack.supervisor.manager.remove(id, false);
  await sleep(600);
  await measure(figures.coldKept, 'cold');
  await toTier(stack, id, 'stop');
  await measure(figures.fromStopped, 'from-stopped');
  await toTier(stack, id, 'pause');
  await measure(figures.fromPaused, 'from-paused');
  await client.close();
}

/** All first calls of BURST cold tenants at once, through the full stack of one lane. */
async function burst(l: Lane, round: number, thenRemove: boolean): Promise<void> {
  const { stack } = l;
  const burstIds = Array.from({ length: BURST }, (_, i) => `burst-${round}-${i}`);
  for (const id of burstIds) await register(stack, id);
  const burstClients = await Promise.all(burstIds.map((id) => agentClient(stack, id)));
  const burstStart = performance.now();
  // A client that gives up (the SDK's own request timeout) is a failed first call, not the end of the run.
  const outcomes = await Promise.all(
    burstClients.map((c, i) =>
      write(c, `burst-${i}`).catch((error: unknown): WriteOutcome => ({
        ok: false,
        error: {
          error_class: 'client',
          code: (error as { code?: string }).code ?? 'client_error',
          retryable: true,
        },
        ms: performance.now() - burstStart,
      })),
    ),
  );
  const wall = performance.now() - burstStart;
  const ok = outcomes.filter((o) => o.ok);
  stats(
    `burst of ${BURST} cold tenants (first write)${thenRemove ? ` [${l.name === 'life' ? 'new' : 'baseline'}, round ${round + 1}]` : ''}`,
    ok.map((o) => o.ms),
    `  success ${ok.length}/${BURST} (${((100 * ok.length) / BURST).toFixed(0)}%), wall ${(wall / 1000).toFixed(1)} s, ` +
      `max creates in flight ${stack.supervisor.createLimiter.maxInFlight}`,
  );
  const failures = new Map<string, number>();
  for (const o of outcomes.filter((o) => !o.ok)) {
    const code = o.error?.code ?? 'unknown';
    failures.set(code, (failures.get(code) ?? 0) + 1);
  }
  if (failures.size > 0)
    console.log(`  failed: ${[...failures].map(([code, n]) => `${n} x ${code}`).join(', ')}`);
  await printBurstCpu(stack, new Set(burstIds));
  console.log(`  ${load()}`);
  await Promise.all(burstClients.map((c) => c.close()));
  if (thenRemove) for (const id of burstIds) await stack.supervisor.manager.remove(id, false);
}

async function main(): Promise<void> {
  const lanes = [await lane('life', RUNTIME_IMAGE, undefined, undefined, { startCpuBoostIntervalMs: 0 })];
  const nanoCpus = values['baseline-nanocpus'];
  const noBoost = values['baseline-no-boost'];
  const baselineImage = values['baseline-image'] ?? (nanoCpus || noBoost ? RUNTIME_IMAGE : undefined);
  if (baselineImage)
    lanes.push(
      // Boosted like this tree's lane (every start), unless the boost is what is compared: with the
      // supervisor's default only a tenant's first start in a minute is boosted, and the rounds'
      // second and third starts of a tenant would wait for their CPU quota in this lane alone.
      await lane('base', baselineImage, nanoCpus ? new NanoCpusDocker() : undefined, undefined, {
        ...(noBoost ? { startCpuBoost: 0 } : { startCpuBoostIntervalMs: 0 }),
      }),
    );
  // The other checkout's whole stack (`--before`): its warm writes take turns with this tree's too.
  let beforeStack: TestStack | undefined;
  if (!baselineImage && values.before) {
    const other = (await import(resolve(values.before, 'test/support/stack.ts'))) as {
      startTestStack: typeof startTestStack;
    };
    // Every start boosted, as in this tree's lane (above).
    const beforeLane = await lane('base', RUNTIME_IMAGE, undefined, other.startTestStack, {
      startCpuBoostIntervalMs: 0,
    });
    lanes.push(beforeLane);
    beforeStack = beforeLane.stack;
  }
  const stack = lanes[0]!.stack;
  console.log(
    `lifecycle benchmark: ${ISOLATION}, plan small, Node ${process.version}, create cap 4, image ${RUNTIME_IMAGE}` +
      `${baselineImage ? ` (baseline ${baselineImage}${nanoCpus ? ' at NanoCpus' : ''}${noBoost ? ' without the start-time CPU boost' : ''}, rounds alternating)` : ''}` +
      `${!baselineImage && values.before ? ` (baseline: the stack of ${values.before}, rounds alternating)` : ''}, ` +
      `rounds ${ROUNDS}, burst ${BURST}, fleet ${FLEET}; ${load()}`,
  );
  try {
    // 1. Cold start: registered tenant, no container (volume created too), then volume kept.
    for (let i = 0; i < ROUNDS; i++)
      for (const l of i % 2 === 0 ? lanes : [...lanes].reverse()) await lifecycleRound(l, i);
    const rows = [
      ['coldFirst', 'cold start: first write ever (volume + container)'],
      ['coldKept', 'cold start: volume kept, no container'],
      ['fromStopped', 'wake from stopped'],
      ['fromPaused', 'wake from paused'],
    ] as const;
    console.log(`after the lifecycle rounds: ${load()}`);
    for (const [key, label] of rows)
      for (const l of lanes) {
        const tag = lanes.length > 1 ? ` [${l.name === 'life' ? 'new' : 'baseline'}]` : '';
        stats(`${label}${tag}`, l.figures[key].call);
        stats(`  of which the supervisor's start${tag}`, l.figures[key].ready);
        stats(`  container throttled by its CPU quota${tag}`, l.figures[key].throttled);
        printPhases(l.figures[key].phases, tag);
      }

    // 2. Warm writes, layer by layer (warm-writes.ts), to the first round's tenant.
    if (ROUNDS > 0) await measureWarmWrites({ stack, tenant: 'life-0', before: values.before, beforeStack });
    else console.log('warm writes: not measured (--rounds 0 starts no tenant to write to)');

    // 3. A burst of cold tenants, all first calls at once through the full stack; with a baseline
    //    lane, one burst per lane and round, each removed before the next so that all meet the same
    //    engine.
    const many = lanes.length > 1 || BURST_ROUNDS > 1;
    for (let r = 0; BURST > 0 && r < BURST_ROUNDS; r++)
      for (const l of r % 2 === 0 ? lanes : [...lanes].reverse()) await burst(l, r, many);

    // 4. Idle memory: one tenant container, and a supervisor process adopting a fleet.
    const fleetIds = Array.from({ length: Math.max(0, FLEET - BURST - ROUNDS) }, (_, i) => `fleet-${i}`);
    for (const id of fleetIds) await register(stack, id);
    await Promise.all(fleetIds.map((id) => stack.runtimes.ensure(id)));
    const running = (await stack.supervisor.driver.list()).filter((r) => r.state === 'running');
    await sleep(3_000);
    const usages = (await Promise.all(running.map((r) => stack.supervisor.driver.usage(r.tenantId)))).flatMap(
      (u) => (u ? [u.memoryBytes] : []),
    );
    const sorted = [...usages].sort((a, b) => a - b);
    console.log(
      `idle tenant container memory (working set, ${sorted.length} containers): p50 ${mib(quantile(sorted, 0.5))}, ` +
        `p95 ${mib(quantile(sorted, 0.95))}, max ${mib(sorted.at(-1) ?? 0)}`,
    );
    const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
    const child = spawn(process.execPath, ['supervisor/main.ts'], {
      env: {
        ...process.env,
        BULKHEAD_NAMESPACE: stack.ns.namespace,
        BULKHEAD_RUN_DIR: join(stack.ns.runDir, 'run'),
        BULKHEAD_RUNTIME_IMAGE: RUNTIME_IMAGE,
        BULKHEAD_ROUTER_PUBLIC_KEY_FILE: keys.publicKeyFile,
        // The same runtime spec as the stack's supervisor (the egress key is in it): it adopts the
        // fleet instead of recycling every container as "spec changed".
        BULKHEAD_EGRESS_PUBLIC_KEY_FILE: keys.egress.publicKeyFile,
        BULKHEAD_IDLE_PAUSE_MS: '0',
        BULKHEAD_HEALTH_INTERVAL_MS: '2000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let childLog = '';
    child.stdout.on('data', (chunk: Buffer) => (childLog += chunk.toString()));
    try {
      await sleep(8_000); // reconcile + several health passes over the whole fleet
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
      console.log(
        `supervisor process RSS with ${running.length} tenants running (after reconcile + health passes): ${mib(rss)}`,
      );
    } finally {
      child.kill('SIGTERM');
      // Its work ends before the namespace's cleanup starts: nothing it starts outlives the bench.
      await exited;
    }
    // What it did besides holding memory: adopting a fleet recycles nothing.
    const recycles = childLog.split('\n').filter((line) => line.includes('"msg":"recycling runtime"'));
    const reasons = [...new Set(recycles.map((line) => (JSON.parse(line) as { reason: string }).reason))];
    console.log(
      `  runtimes that supervisor recycled: ${recycles.length}${reasons.length ? ` (${reasons.join(', ')})` : ''}`,
    );
  } finally {
    for (const l of lanes) await Promise.all([l.jobs.close(), l.events.close()]);
    for (const l of lanes) await l.stack.close();
  }
}

await main();
