// Soak (not a test): many agents at once through router processes of their own, bounded in time.
// Each tenant is onboarded and warmed (its container started), then every agent calls in a loop
// until the deadline: reads (`records_list`) and writes (`records_create`, a unique title and
// idempotency key each), a retryable refusal retried with the same key after its `retry_after_ms`
// as a well-behaved agent does. At the end every acknowledged write must be in its tenant's store
// exactly once, and the routers' count of audit records Redis did not confirm in time is printed.
// The router processes' and the supervisor process's memory (and this process's: IdP and load
// generator) is printed every --sample-seconds as RSS (V8 heap used/heap size, external memory).
// Prints figures; asserts nothing; stops by itself.
//   node test/bench/soak.ts [--tenants 100] [--agents 10] [--seconds 60] [--routers 2]
//                           [--writes 0.2] [--sample-seconds 60] [--health-seconds 10]
//                           [--log-dir DIR] [--heap-dir DIR]
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Client } from '@modelcontextprotocol/client';
import { bearerClient, volumeTitles } from '../support/mcp-client.ts';
import { startTestStack } from '../support/stack.ts';
import { printFigures } from './figures.ts';
import {
  auditUnconfirmed,
  memoryOf,
  spawnRouter,
  spawnSupervisor,
  stop,
  type SoakProcess,
} from './soak-processes.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    tenants: { type: 'string', default: '100' },
    agents: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '60' },
    routers: { type: 'string', default: '2' },
    writes: { type: 'string', default: '0.2' },
    'sample-seconds': { type: 'string', default: '60' },
    // The supervisor's health pass interval (its default is 10 s; 0: no health pass in the run).
    'health-seconds': { type: 'string', default: '10' },
    // Each process's log (level warn) into this directory.
    'log-dir': { type: 'string' },
    // Diagnosis: each router process writes a heap snapshot into this directory at every sample.
    'heap-dir': { type: 'string' },
  },
});
const TENANTS = Math.min(Math.max(Number(values.tenants), 1), 150);
const AGENTS = Math.min(Math.max(Number(values.agents), 1), 20);
const SECONDS = Math.min(Math.max(Number(values.seconds), 5), 600);
const ROUTERS = Math.min(Math.max(Number(values.routers), 1), 4);
const WRITES = Math.min(Math.max(Number(values.writes), 0), 1);
const SAMPLE_MS = Math.max(Number(values['sample-seconds']), 5) * 1000;
const HEALTH_MS = Number(values['health-seconds']) > 0 ? Number(values['health-seconds']) * 1000 : 3_600_000;
const DIAGNOSIS = { logDir: values['log-dir'], heapDir: values['heap-dir'] };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Tally {
  reads: number;
  writes: number;
  retried: number;
  refusals: Map<string, number>;
  unintended: string[];
  latencies: number[];
  acknowledged: Map<string, string[]>;
}

type ToolError = { code?: string; retryable?: boolean; retry_after_ms?: number };

/** One call until it is answered for good: a retryable refusal is retried with the same arguments. */
async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  tally: Tally,
  until: number,
) {
  for (;;) {
    const started = performance.now();
    const result = await client.callTool({ name, arguments: args });
    tally.latencies.push(performance.now() - started);
    if (!result.isError) return true;
    const error = (result.structuredContent as { error?: ToolError } | undefined)?.error;
    if (!error?.retryable || performance.now() > until) {
      tally.unintended.push(`${name}: ${error?.code ?? JSON.stringify(result.content).slice(0, 120)}`);
      return false;
    }
    tally.retried += 1;
    tally.refusals.set(error.code ?? '?', (tally.refusals.get(error.code ?? '?') ?? 0) + 1);
    await sleep(Math.min(error.retry_after_ms ?? 200, 2_000));
  }
}

async function agent(client: Client, tenant: string, until: number, tally: Tally): Promise<void> {
  const mine = tally.acknowledged.get(tenant) ?? [];
  tally.acknowledged.set(tenant, mine);
  while (performance.now() < until) {
    try {
      if (Math.random() < WRITES) {
        const title = `soak-${randomUUID()}`;
        const args = { title, idempotency_key: `soak-${randomUUID()}` };
        if (await call(client, 'records_create', args, tally, until + 10_000)) mine.push(title);
        tally.writes += 1;
      } else {
        await call(client, 'records_list', {}, tally, until + 10_000);
        tally.reads += 1;
      }
    } catch (error) {
      // fetch's own message is only "fetch failed": the cause (a code such as ECONNRESET) says why.
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = cause ? ` (${cause.code ?? cause.message?.slice(0, 60) ?? '?'})` : '';
      tally.unintended.push(`exception: ${(error as Error).message.slice(0, 120)}${why}`);
    }
  }
}

async function main(): Promise<void> {
  for (const dir of [DIAGNOSIS.logDir, DIAGNOSIS.heapDir]) if (dir) await mkdir(dir, { recursive: true });
  const stack = await startTestStack('soak');
  const routers: (SoakProcess & { url: string; metricsUrl: string })[] = [];
  let supervisor: SoakProcess | undefined;
  const clients: Client[] = [];
  try {
    supervisor = await spawnSupervisor(stack, { healthIntervalMs: HEALTH_MS, createLimit: 4 }, DIAGNOSIS);
    for (let i = 0; i < ROUTERS; i++) routers.push(await spawnRouter(stack, `router-${i}`, DIAGNOSIS));
    const tenants = Array.from({ length: TENANTS }, (_, i) => `soak-${i}`);
    const warmStart = performance.now();
    // Onboard and start the containers a few at a time (the engine's create cap is 4).
    for (let i = 0; i < tenants.length; i += 8) {
      await Promise.all(
        tenants.slice(i, i + 8).map(async (tenant) => {
          await stack.onboard(tenant);
          await stack.runtimes.ensure(tenant);
        }),
      );
    }
    console.log(
      `soak: ${TENANTS} tenants x ${AGENTS} agents = ${TENANTS * AGENTS} agents, ${ROUTERS} router processes, ` +
        `${Math.round(WRITES * 100)} % writes, ${SECONDS} s, health pass every ` +
        `${HEALTH_MS >= 3_600_000 ? 'hour' : `${HEALTH_MS / 1000} s`}; ${TENANTS} containers started in ` +
        `${((performance.now() - warmStart) / 1000).toFixed(0)} s; Node ${process.version}`,
    );
    const agents: { client: Client; tenant: string }[] = [];
    for (const tenant of tenants) {
      const token = await stack.agentToken(tenant);
      for (let a = 0; a < AGENTS; a++) {
        const router = routers[agents.length % routers.length]!;
        const client = await bearerClient(router.url, token);
        clients.push(client);
        agents.push({ client, tenant });
      }
    }
    const tally: Tally = {
      reads: 0,
      writes: 0,
      retried: 0,
      refusals: new Map(),
      unintended: [],
      latencies: [],
      acknowledged: new Map(),
    };
    const memory = async (label: string, ask: 'memory' | 'gc' = 'memory'): Promise<void> => {
      if (DIAGNOSIS.heapDir) for (const r of routers) r.child.kill('SIGUSR2');
      const each = await Promise.all(routers.map((r) => memoryOf(r, ask)));
      console.log(
        `${label.padEnd(8)} calls ${String(tally.reads + tally.writes).padStart(6)}  routers ` +
          `${each.join(', ')}  supervisor ${await memoryOf(supervisor, ask)}  IdP+load ${await memoryOf(undefined)}`,
      );
    };
    // The heap in use with no garbage, before and after the load: what a leak would grow.
    await memory('t=0 s, after a full GC', 'gc');
    await memory('t=0 s');
    const started = performance.now();
    const until = started + SECONDS * 1000;
    const sampler = setInterval(
      () => void memory(`t=${Math.round((performance.now() - started) / 1000)} s`),
      SAMPLE_MS,
    );
    await Promise.all(agents.map(({ client, tenant }) => agent(client, tenant, until, tally)));
    clearInterval(sampler);
    const wall = (performance.now() - started) / 1000;
    await memory(`end`);
    await memory('end, after a full GC', 'gc');
    printFigures('call latency (all calls, retries counted apart)', tally.latencies, { digits: 1 });
    console.log(
      `calls: ${tally.reads} reads, ${tally.writes} writes in ${wall.toFixed(0)} s ` +
        `(${((tally.reads + tally.writes) / wall).toFixed(0)} calls/s); retried after a retryable refusal ` +
        `${tally.retried} (${[...tally.refusals].map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}); ` +
        `unintended errors ${tally.unintended.length}`,
    );
    const kinds = new Map<string, number>();
    for (const u of tally.unintended) kinds.set(u, (kinds.get(u) ?? 0) + 1);
    for (const [kind, n] of [...kinds].slice(0, 10)) console.log(`  ${n} x ${kind}`);
    // Each logged in full by its router (it may still land in the trail): docs/audit.md.
    const unconfirmed = await Promise.all(routers.map(auditUnconfirmed));
    console.log(
      `audit records not confirmed in Redis within the state deadline: ${unconfirmed.reduce((a, b) => a + b, 0)} ` +
        `(${unconfirmed.join(', ')} by router)`,
    );

    // Every acknowledged write exactly once in its tenant's store.
    let lost = 0;
    let duplicated = 0;
    let acknowledged = 0;
    for (const tenant of tenants) {
      const stored = new Map<string, number>();
      for (const title of await volumeTitles(stack, tenant)) stored.set(title, (stored.get(title) ?? 0) + 1);
      for (const title of tally.acknowledged.get(tenant) ?? []) {
        acknowledged += 1;
        const n = stored.get(title) ?? 0;
        if (n === 0) lost += 1;
        if (n > 1) duplicated += 1;
      }
    }
    console.log(`writes acknowledged ${acknowledged}: lost ${lost}, duplicated ${duplicated}`);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(routers.map(stop));
    if (supervisor) await stop(supervisor);
    await stack.close();
  }
}

await main();
