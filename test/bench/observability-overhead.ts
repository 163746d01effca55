// Benchmark (not a test): what tracing, metrics and audit cost on the shared-tool hot path. Router
// apps in this process as production wires them (real token verifier, Redis rate limits): one with
// all three off, one with each alone, one with all three on: OTLP spans to a real OTLP/HTTP receiver
// (a process of its own), the Prometheus registry, the hash-chained audit trail in Redis with the
// keyed argument digests. Concurrent tools/call whoami for a fixed time, the settings in turn, calls
// per second printed side by side, and CPU per call: this process's, its event loop thread's, and
// (`all/call`) that of every process a call keeps busy, this one, Redis and the OTLP receiver,
// which on two cores is what bounds the rate and moves less with the machine's other load than
// the rate does. Asserts nothing.
//   node test/bench/observability-overhead.ts [--seconds 2] [--rounds 10] [--concurrency 8]
//     [--only tracing]     one setting alone (for a CPU profile of it: node --cpu-prof ...)
//     [--before DIR]       also the routers of another checkout (e.g. main's), in the same rounds
//     [--processes]        each router in a process of its own (test/bench/observability-router.ts),
//                          one setting per process as deployed; CPU/call and loop/call are then
//                          the router process's alone, all/call adds this process (the clients)
// A sixth setting, "all on 10%", samples one new trace in ten (BULKHEAD_TRACE_SAMPLE_RATIO=0.1):
// shown beside the others, but the overhead target is judged on "all on" (every call traced). A
// seventh, "audit floor", keeps no trail: each answer waits for an empty Redis round trip, grouped
// as the trail groups its appends (redis-floor.ts), the least that waiting for a record can cost.
// The last, "all off again", is a second router with everything off: its change against "all off"
// is the spread between two routers that run the same thing, measured in the same rounds. Below
// the table, each setting's change in calls/s round by round.
// With --before, every round runs each setting of both checkouts in turn, so the machine's other
// load falls on before and after alike; each table's changes are against its own "all off".
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { pino } from 'pino';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startDevIdp } from '../../dev/idp/dev-idp.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import { mcpPost } from '../support/auth-harness.ts';
import { startReceiverProcess } from '../support/otlp-receiver.ts';
import { freePort, TEST_QUOTAS } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { badArgument, benchArgs } from './bench-args.ts';
import { groupedRoundTrip } from './redis-floor.ts';
import { median } from './figures.ts';
import { forkRouter, type RouterProcess } from './observability-processes.ts';
import {
  exposedGc,
  isSetting,
  loadCheckout,
  observabilityFor,
  SAMPLED,
  SETTINGS,
  type Setting,
} from './observability-settings.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    seconds: { type: 'string', default: '2' },
    // Ten: in five, the control ("all off again") came out +4.9 % from "all off", its rounds from
    // -24.7 to +17.2 %; in ten, the next run, +1.5 % (docs/observability-overhead.md).
    rounds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    only: { type: 'string' },
    before: { type: 'string' },
    processes: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const processes = values.processes;
const logger = pino({ level: 'silent' });
const INITIAL = 'bench-initial-access-token-0123456789';
const WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

if (values.only !== undefined && !isSetting(values.only))
  badArgument(`--only takes one of: ${SETTINGS.join(', ')}`);
const CONFIGS: readonly Setting[] = isSetting(values.only) ? [values.only] : SETTINGS;

/** One checkout's routers (this one, or --before's), built from that checkout's own modules. */
interface Checkout {
  label: string;
  tracings: Tracing[];
  routers: { mcpUrl: string; close(): Promise<void> }[];
  /** Per router: exports the spans its setting queued (none for a setting without tracing). */
  flushes: (() => Promise<void>)[];
  /** Per router in a process of its own (--processes): its garbage collection and CPU times. */
  processes?: RouterProcess[];
}

const here = resolve(import.meta.dirname, '../..');
const dirs = [here, ...(values.before === undefined ? [] : [resolve(values.before)])];
const ports = await Promise.all(dirs.flatMap(() => CONFIGS.map(() => freePort())));
const idp = await startDevIdp({
  port: 0,
  resources: ports.map((port) => ({ url: `http://127.0.0.1:${port}/mcp`, scopes: ['records:read'] })),
  initialAccessToken: INITIAL,
  logger,
});
// The OTLP endpoint in a process of its own, as a collector would be: decoding the exports does
// not share this process's CPU with the routers.
const receiver = await startReceiverProcess();
const run = `bulkhead:t-bench-obs-${randomBytes(3).toString('hex')}`;
const redis = new Redis(parseRedisUrl(REDIS_URL));
// Quotas the loops never reach: the rate limits are taken (a Redis round trip) but never refuse.
const base = tenantRecord('bench', { tools: openToAgentsAlone('all') });
const record = { ...base, quotas: { ...base.quotas, ...TEST_QUOTAS } };
const issuers = [{ issuer: idp.issuer }];

/** The in-process routers' connections, closed at the end. */
const connections: Redis[] = [];

async function startProcesses(dir: string, at: number): Promise<Checkout> {
  const started = await Promise.all(
    CONFIGS.map((setting, i) =>
      forkRouter({
        dir,
        setting,
        port: String(ports[at + i]!),
        issuer: idp.issuer,
        receiver: receiver.url,
        // Each router's own keys: no two audit writers share a chain.
        prefix: `${run}-${at + i}`,
        tenant: JSON.stringify(record),
      }),
    ),
  );
  return {
    label: dir === here ? 'this checkout' : `before: ${dir}`,
    tracings: [],
    routers: started.map(({ url, process: child }) => ({ mcpUrl: url, close: () => child.close() })),
    flushes: started.map(
      ({ process: child }) =>
        async () =>
          void (await child.ask('flush')),
    ),
    processes: started.map(({ process: child }) => child),
  };
}

async function startCheckout(dir: string, at: number): Promise<Checkout> {
  if (processes) return startProcesses(dir, at);
  // Each checkout's own keys: two audit writers never contend for one chain here.
  const prefix = `${run}-${at}`;
  const { AuditTrail, ArgsDigester, startTracing, RouterMetrics, harness } = await loadCheckout(dir);
  const tracing = startTracing({ service: 'bulkhead-router', endpoint: receiver.url })!;
  const sampled = startTracing({ service: 'bulkhead-router', endpoint: receiver.url, sampleRatio: SAMPLED })!;
  const metrics = new RouterMetrics({ tenantLabel: false });
  const checkoutRedis = new Redis(parseRedisUrl(REDIS_URL));
  connections.push(checkoutRedis);
  const audit = {
    audit: new AuditTrail({ redis: checkoutRedis, prefix }),
    digester: new ArgsDigester('bench-secret'),
  };
  const roundTrip = await groupedRoundTrip(checkoutRedis);
  const chosen = CONFIGS.map((setting) =>
    observabilityFor(setting, {
      tracing: (ratio) => (ratio === 1 ? tracing : sampled),
      metrics: () => metrics,
      audit: () => audit,
      roundTrip: () => roundTrip,
    }),
  );
  const routers = await Promise.all(
    CONFIGS.map((_, i) =>
      harness.startAuthRouter({
        port: ports[at + i]!,
        issuers,
        tenants: new harness.MemoryTenants([record]),
        logger,
        prefix,
        observability: chosen[i]!,
        // One connection for the stores and the audit trail, as router/router.ts wires them.
        redis: checkoutRedis,
      }),
    ),
  );
  return {
    label: dir === here ? 'this checkout' : `before: ${dir}`,
    tracings: [tracing, sampled],
    routers,
    // Each router exports the spans its setting queued (none for a setting without tracing).
    flushes: chosen.map(
      ({ tracing: traced }) =>
        () =>
          traced?.tracing.flush() ?? Promise.resolve(),
    ),
  };
}

const checkouts: Checkout[] = [];
for (const [i, dir] of dirs.entries()) checkouts.push(await startCheckout(dir, i * CONFIGS.length));
const agent = await registerAgentClient({
  issuer: idp.issuer,
  initialAccessToken: INITIAL,
  tenant: 'bench',
  scopes: ['records:read'],
  clientName: 'bench',
});
const tokenFor = (resource: string): Promise<string> =>
  mintClientCredentialsToken({ issuer: idp.issuer, ...agent, resource, scope: 'records:read' });

/** Every call answered in this run, warm-up included (a profile's time per call divides by it). */
let answered = 0;

// A full garbage collection before each round, outside its time: the garbage one setting leaves (a
// traced round's spans and their encoding) would otherwise be collected in whichever setting runs
// next, always the same one in the rotation. Each round still collects its own garbage as it goes.
const collectGarbage = exposedGc();

/** Linux's clock ticks per second, the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on x86). */
const CLOCK_TICKS = 100;

/**
 * CPU time used so far, in µs, by the processes every call keeps busy: this one (routers and
 * clients), Redis (rate limits, audit) and the OTLP receiver (decoding the exports). On a machine
 * of two cores their sum per call is what bounds the rate, and it is steadier than the rate itself:
 * time spent waiting for a core is not in it.
 */
async function machineCpuUs(): Promise<number> {
  const own = process.cpuUsage();
  const info = await redis.info('cpu');
  const redisSeconds = ['used_cpu_sys', 'used_cpu_user']
    .map((field) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0))
    .reduce((a, b) => a + b, 0);
  // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the command's closing paren.
  const stat = await readFile(`/proc/${receiver.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const receiverTicks = Number(fields[11]) + Number(fields[12]);
  return own.user + own.system + redisSeconds * 1e6 + (receiverTicks / CLOCK_TICKS) * 1e6;
}

/** CPU times in µs: the routers' process and its event loop thread. */
interface RouterCpu {
  processUs: number;
  loopUs: number;
}

/** The routers' CPU so far: this process's (in-process routers) or the router process's. */
async function routerCpu(child: RouterProcess | undefined): Promise<RouterCpu> {
  if (child) {
    const { processUs, loopUs } = await child.ask('cpu');
    return { processUs: processUs!, loopUs: loopUs! };
  }
  const own = process.cpuUsage();
  const loop = process.threadCpuUsage();
  return { processUs: own.user + own.system, loopUs: loop.user + loop.system };
}

/**
 * `concurrency` clients calling one after another for `seconds`: calls answered per second, and the
 * routers' CPU time per call (in-process: routers and clients; with --processes: the router's
 * process alone; less sensitive than the rate to other load on the machine, since time spent
 * waiting for the CPU is not counted).
 */
async function measure(
  url: string,
  token: string,
  seconds: number,
  flush: () => Promise<void>,
  child?: RouterProcess,
): Promise<{ rate: number; cpuUs: number; loopUs: number; machineUs: number }> {
  collectGarbage();
  if (child) await child.ask('gc');
  const until = performance.now() + seconds * 1000;
  let calls = 0;
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const answer = await mcpPost(url, token, WHOAMI);
      if (answer.status !== 200 || !answer.body.includes('bench')) throw new Error(`whoami: ${answer.body}`);
      calls += 1;
      answered += 1;
    }
  };
  const started = performance.now();
  const machine = await machineCpuUs();
  const before = await routerCpu(child);
  await Promise.all(Array.from({ length: concurrency }, client));
  // The spans of these calls leave now, inside this setting's time and CPU: left to the batch
  // processor's timer, their export would fall in the next setting's round.
  await flush();
  const after = await routerCpu(child);
  const elapsed = (performance.now() - started) / 1000;
  // With a router process, the machine's CPU adds that process's to this one's (the clients').
  const childUs = child ? after.processUs - before.processUs : 0;
  const machineUs = ((await machineCpuUs()) - machine + childUs) / calls;
  return {
    machineUs,
    rate: calls / elapsed,
    cpuUs: (after.processUs - before.processUs) / calls,
    loopUs: (after.loopUs - before.loopUs) / calls,
  };
}

try {
  const runs = checkouts.flatMap((checkout) =>
    checkout.routers.map((router, i) => ({
      checkout,
      router,
      flush: checkout.flushes[i]!,
      child: checkout.processes?.[i],
    })),
  );
  const tokens = await Promise.all(runs.map(({ router }) => tokenFor(router.mcpUrl)));
  // Warm every router (JWKS, JIT) before measuring.
  for (const [i, { router, flush, child }] of runs.entries())
    await measure(router.mcpUrl, tokens[i]!, 1, flush, child);
  const results = runs.map(() => ({
    rate: [] as number[],
    cpuUs: [] as number[],
    loopUs: [] as number[],
    machineUs: [] as number[],
  }));
  // Round-robin, each round starting one router further on: a burst of load from elsewhere on the
  // machine falls on every setting alike, and none always runs right after another.
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < runs.length; k += 1) {
      const i = (k + round) % runs.length;
      const { rate, cpuUs, loopUs, machineUs } = await measure(
        runs[i]!.router.mcpUrl,
        tokens[i]!,
        seconds,
        runs[i]!.flush,
        runs[i]!.child,
      );
      results[i]!.rate.push(rate);
      results[i]!.cpuUs.push(cpuUs);
      results[i]!.loopUs.push(loopUs);
      results[i]!.machineUs.push(machineUs);
    }
  }
  for (const checkout of checkouts) for (const tracing of checkout.tracings) await tracing.flush();
  // Each round's value against its own round's "all off" (measured within seconds of it), then the
  // median of those changes: slow drifts in the machine's other load cancel out.
  const change = (values: number[], base: number[]): string => {
    const median_ = median(values.map((value, round) => (value - base[round]!) / base[round]!));
    return `${(median_ * 100).toFixed(1).padStart(6)} %`;
  };
  console.log(
    `tools/call whoami, ${concurrency} concurrent clients, ${rounds} rounds of ${seconds} s each, ` +
      (processes ? 'each router in a process of its own' : 'routers and clients in one process') +
      ' (medians; changes: median of each round against its own all off)',
  );
  for (const [c, checkout] of checkouts.entries()) {
    const at = c * CONFIGS.length;
    const off = results[at]!;
    if (checkouts.length > 1) console.log(` ${checkout.label}`);
    for (const [i, config] of CONFIGS.entries()) {
      const { rate, cpuUs, loopUs, machineUs } = results[at + i]!;
      const rounds = rate.length <= 6 ? `  [${rate.map((v) => v.toFixed(0)).join(', ')} calls/s]` : '';
      console.log(
        `  ${config.padEnd(13)} ${median(rate).toFixed(0).padStart(6)} calls/s` +
          `${i === 0 ? '         ' : change(rate, off.rate)}` +
          `  ${median(cpuUs).toFixed(0).padStart(6)} µs CPU/call${i === 0 ? '         ' : change(cpuUs, off.cpuUs)}` +
          `  ${median(loopUs).toFixed(0).padStart(6)} µs loop/call${i === 0 ? '         ' : change(loopUs, off.loopUs)}` +
          `  ${median(machineUs).toFixed(0).padStart(6)} µs all/call${i === 0 ? '         ' : change(machineUs, off.machineUs)}` +
          rounds,
      );
    }
  }
  // Round by round: how far apart the rounds of one setting are, and so how far its median can be
  // trusted (against "all off again", which runs the same thing as "all off").
  if (CONFIGS.length > 1) console.log("  calls/s change in each round, against that round's all off:");
  for (const [c, checkout] of checkouts.entries()) {
    const at = c * CONFIGS.length;
    const off = results[at]!.rate;
    for (const [i, config] of CONFIGS.entries()) {
      if (i === 0) continue;
      const changes = results[at + i]!.rate.map((value, round) => (value - off[round]!) / off[round]!);
      const sorted = [...changes].sort((a, b) => a - b);
      const percent = (value: number) => `${(value * 100).toFixed(1)} %`;
      console.log(
        `    ${checkouts.length > 1 ? `${checkout.label}: ` : ''}${config.padEnd(13)} ` +
          `${changes.map(percent).join(', ')}  (from ${percent(sorted[0]!)} to ${percent(sorted.at(-1)!)})`,
      );
    }
  }
  console.log(`  spans received by the OTLP endpoint: ${await receiver.spans()}`);
  console.log(`  calls answered, warm-up included: ${answered}`);
} finally {
  for (const checkout of checkouts) {
    for (const router of checkout.routers) await router.close();
    for (const tracing of checkout.tracings) await tracing.shutdown();
  }
  receiver.close();
  await idp.close();
  redis.disconnect();
  for (const connection of connections) connection.disconnect();
}
