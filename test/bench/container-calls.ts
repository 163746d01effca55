// Benchmark (not a test): the CPU a tenant container spends per call, once warm, in each of its
// processes (the runtime and the reference pack) and in all (its cgroup), on the real engine. Each
// image gets a container of its own through the supervisor's Docker adapter (no router, no BullMQ);
// calls go straight to its socket, signed as the router signs them, one at a time. After a warm-up
// (V8 optimises a runtime's code over its first few hundred calls, which take more CPU than later
// ones), rounds alternate between the images, a batch of writes (records_create, a new key each)
// then one of reads (records_get) per image, so every figure has its baseline from the same
// minutes. Each figure is the median of the rounds' batches; the process figures come from /proc
// (10 ms ticks; none under gVisor, whose processes are the sandbox's), the cgroup's from the engine.
//   node test/bench/container-calls.ts [--images a,b] [--rounds 6] [--calls 300] [--warm 800]
//     [--isolation runc|gvisor]
// Asserts nothing; every loop is bounded; its containers live in their own namespace and are removed.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { createCallSigner, type CallSigner } from '../../router/dispatch/call-signer.ts';
import { mcpHeaders, RUNTIME_ENVELOPE } from '../../router/dispatch/runtime-request.ts';
import { RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { badArgument, benchArgs, isolationArg } from './bench-args.ts';
import { median, quantile } from './figures.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    images: { type: 'string', default: RUNTIME_IMAGE },
    rounds: { type: 'string', default: '6' },
    calls: { type: 'string', default: '300' },
    warm: { type: 'string', default: '800' },
    isolation: { type: 'string', default: 'runc' },
  },
});
const ISOLATION = isolationArg(values.isolation);
const IMAGES = values.images.split(',').filter(Boolean);
const ROUNDS = Math.min(50, Number(values.rounds));
const CALLS = Math.min(5_000, Number(values.calls));
const WARM = Math.min(5_000, Number(values.warm));
if (IMAGES.length === 0 || ![ROUNDS, CALLS, WARM].every((n) => Number.isInteger(n) && n >= 1))
  badArgument('--images names at least one image; --rounds, --calls and --warm take whole numbers from 1');

const TICK_MS = 10;
const KINDS = ['write', 'read'] as const;
type Kind = (typeof KINDS)[number];

interface Target {
  image: string;
  tenant: string;
  context: CallContext;
  socket: Agent;
  container: Docker.Container;
  /** The runtime's and the pack's host PIDs (none under gVisor: its processes are the sandbox's). */
  pids: { runtime: number; pack: number } | undefined;
  /** The id of a record, for the reads. */
  recordId: string;
}

interface Batch {
  latencyMs: number;
  cgroupMs: number;
  runtimeMs: number;
  packMs: number;
}

async function ticksMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function cgroupMs(container: Docker.Container): Promise<number> {
  // one-shot: the sample now, not a second one a second later (supervisor/docker/container-usage.ts).
  const stats = await container.stats({ stream: false, 'one-shot': true } as { stream: false });
  return stats.cpu_stats.cpu_usage.total_usage / 1e6;
}

/** One tools/call straight to the runtime's socket, as the router's dispatcher sends it. */
async function call(
  target: Target,
  sign: CallSigner,
  name: string,
  args: Record<string, unknown>,
): Promise<string> {
  const params = { name, arguments: args, _meta: RUNTIME_ENVELOPE };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params });
  const res = await request('http://tenant/mcp', {
    method: 'POST',
    dispatcher: target.socket,
    headers: {
      ...mcpHeaders('tools/call', params),
      [CALL_ASSERTION_HEADER]: await sign(target.context, body),
    },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200 || text.includes('"isError":true'))
    throw new Error(`${name} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return text;
}

function callOf(kind: Kind, target: Target, sign: CallSigner): () => Promise<string> {
  return kind === 'write'
    ? () => call(target, sign, 'records_create', { title: 'bench', idempotency_key: randomUUID() })
    : () => call(target, sign, 'records_get', { id: target.recordId });
}

async function batch(target: Target, sign: CallSigner, kind: Kind): Promise<Batch> {
  const run = callOf(kind, target, sign);
  const [cg0, rt0, pk0] = await Promise.all([
    cgroupMs(target.container),
    ticksMs(target.pids?.runtime),
    ticksMs(target.pids?.pack),
  ]);
  const latencies: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await run();
    latencies.push(performance.now() - t0);
  }
  const [cg1, rt1, pk1] = await Promise.all([
    cgroupMs(target.container),
    ticksMs(target.pids?.runtime),
    ticksMs(target.pids?.pack),
  ]);
  latencies.sort((a, b) => a - b);
  return {
    latencyMs: quantile(latencies, 0.5),
    cgroupMs: (cg1 - cg0) / CALLS,
    runtimeMs: (rt1 - rt0) / CALLS,
    packMs: (pk1 - pk0) / CALLS,
  };
}

/** The runtime's and the reference pack's PIDs on the host (`docker top`); none under gVisor. */
async function processesOf(container: Docker.Container): Promise<Target['pids']> {
  if (ISOLATION === 'gvisor') return undefined;
  const top = (await container.top({ ps_args: '-o pid,args' })) as { Processes: string[][] };
  const pidOf = (pattern: RegExp): number => {
    const row = top.Processes.find(([, args]) => pattern.test(String(args)));
    if (!row) throw new Error(`no process matching ${String(pattern)} in the container`);
    return Number(row[0]);
  };
  return { runtime: pidOf(/^node \/app\/server\.mjs/), pack: pidOf(/packs\/records\/server\.mjs/) };
}

async function main(): Promise<void> {
  const ns = await testNamespace('bench-calls');
  const driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    docker: ns.docker,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
  const keys = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const sign = await createCallSigner(keys.privateKey);
  const targets: Target[] = [];
  console.log(
    `container calls: ${ISOLATION}, plan small, images ${IMAGES.join(' / ')}, ${WARM} warm-up writes and reads, ` +
      `${ROUNDS} rounds of ${CALLS} writes then ${CALLS} reads per image, alternating`,
  );
  try {
    for (const [k, image] of IMAGES.entries()) {
      const tenant = `calls-${k}`;
      const info = await driver.ensure(
        {
          tenantId: tenant,
          uid: 100_720 + k,
          image,
          isolation: ISOLATION,
          plan: planByName('small'),
          env: { BULKHEAD_ROUTER_PUBLIC_KEY: keys.publicKey },
        },
        { generation: 1 },
      );
      for (let i = 0; !(await probeHealth(info.endpoint)); i++) {
        if (i > 2_000) throw new Error(`${image}: the runtime never answered healthy`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const { socketPath } = info.endpoint as { socketPath: string };
      const container = ns.docker.getContainer(info.runtimeId);
      const target: Target = {
        image,
        tenant,
        context: { tenant, user: null, agent: 'bench', scopes: ['records:write', 'records:read'] },
        socket: new Agent({ connect: { socketPath } }),
        container,
        pids: await processesOf(container),
        recordId: '',
      };
      const created = await call(target, sign, 'records_create', {
        title: 'read me',
        idempotency_key: randomUUID(),
      });
      target.recordId = /\\?"id\\?":\s*\\?"([0-9a-f-]{36})/.exec(created)?.[1] ?? '';
      if (!target.recordId) throw new Error(`no record id in ${created.slice(0, 300)}`);
      for (let i = 0; i < WARM; i++) {
        await callOf('write', target, sign)();
        await callOf('read', target, sign)();
      }
      targets.push(target);
    }
    const results = new Map(targets.map((t) => [t.image, { write: [] as Batch[], read: [] as Batch[] }]));
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts one image further on, so no image always follows the same one.
      for (let j = 0; j < targets.length; j++) {
        const target = targets[(round + j) % targets.length]!;
        for (const kind of KINDS) results.get(target.image)![kind].push(await batch(target, sign, kind));
      }
    }
    for (const kind of KINDS) {
      for (const target of targets) {
        const batches = results.get(target.image)![kind];
        const ms = (pick: (b: Batch) => number): string => {
          const value = median(batches.map(pick));
          return Number.isNaN(value) ? 'n/a' : value.toFixed(2);
        };
        console.log(
          `${kind.padEnd(5)} ${target.image.padEnd(36)} p50 ${ms((b) => b.latencyMs)} ms; CPU per call: ` +
            `container ${ms((b) => b.cgroupMs)} ms (runtime ${ms((b) => b.runtimeMs)}, pack ${ms((b) => b.packMs)}); ` +
            `container per batch ${batches.map((b) => b.cgroupMs.toFixed(2)).join('/')}`,
        );
      }
    }
  } finally {
    for (const target of targets) await target.socket.close();
    await ns.cleanup();
  }
}

await main();
