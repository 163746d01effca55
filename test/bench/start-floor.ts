// Benchmark (not a test): the floor under a tenant runtime's start on this machine and engine. A
// container made by the supervisor's own spec (supervisor/docker/container-spec.ts: the runtime
// image, the tenant's UID, no network, read-only root, the plan's limits, the socket directory and
// the volume, the start-time CPU boost where the tier has one) runs one of:
//   engine   a shell that creates a file in the socket directory and sleeps: the engine's own part
//   node     a bare Node HTTP server on the tenant socket: the engine and a Node start-up, no Bulkhead
//   runtime  the image's own entry, the tenant runtime with its reference pack: Bulkhead's start
//   supervisor  the same runtime brought up by the supervisor's own lifecycle controller and Docker
//            adapter (supervisor/lifecycle/runtime-controller.ts: its lookups, socket directory,
//            volume check, create cap, boost and its end, health wait polled every 10 ms): what the
//            supervisor adds to the runtime's start, in the same rounds
// Each is timed as the supervisor's start is ('runtime ready', test/bench/lifecycle.ts): a cold
// start with the volume kept (create and start), a wake from stopped (start) and from paused
// (the engine's unpause, then a thaw in the host cgroup, the supervisor's way: runtime-freezer.ts),
// each until the file appears (engine), the server answers on the socket (node) or the
// runtime's health probe passes (runtime: supervisor/runtime/health-probe.ts, polled every 2 ms
// instead of the supervisor's 10). The variants take turns round by round. Everything is
// namespaced and removed. Asserts nothing.
//   node test/bench/start-floor.ts [--rounds 8] [--isolation runc|gvisor]
import { readyTenantVolume } from '../../supervisor/docker/tenant-volume.ts';
import { generateKeyPairSync } from 'node:crypto';
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { CONTAINER_SOCKET_NAME } from '../../kernel/wire/runtime-endpoint.ts';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { RuntimeFreezer } from '../../supervisor/docker/runtime-freezer.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { startCpuLimitFor } from '../../supervisor/runtime/runtime-cpu.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import type { RuntimeSpec } from '../../supervisor/runtime/runtime-driver.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { tenantRecord } from '../support/tenant.ts';
import { printFigures } from './figures.ts';
import { benchArgs, isolationArg } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    rounds: { type: 'string', default: '8' },
    isolation: { type: 'string', default: 'runc' },
  },
});
const rounds = Number(values.rounds);
const isolation: RuntimeSpec['isolation'] = isolationArg(values.isolation);

const UID = 100_950;
const READY_TIMEOUT_MS = 30_000;
const NO = (): boolean => false;
const plan = planByName('small');
// The supervisor's default boost (docs/cpu-boost.md): 2 CPUs until the first answer (at the engine
// directly, a container is created with it on either tier; the supervisor boosts gVisor in its cgroup).
const boost = startCpuLimitFor(plan, 2);
const NODE_SERVER = [
  "const p = process.env.BULKHEAD_SOCKET_PATH; require('node:fs').rmSync(p, { force: true });",
  "process.umask(0); require('node:http').createServer((q, r) => r.end('ok')).listen(p);",
].join(' ');
/** What each variant runs instead of the image's entry (none: the entry itself, the runtime). */
const VARIANTS = {
  engine: ['/bin/sh', '-c', 'touch "$BULKHEAD_SOCKET_PATH" && exec sleep 3600'],
  node: ['node', '-e', NODE_SERVER],
  runtime: undefined,
  supervisor: undefined,
} as const;
type Variant = keyof typeof VARIANTS;

const ns = await testNamespace('bench-floor');
const { docker } = ns;
const freezer = new RuntimeFreezer();

/** The runtime refuses to start without the router's key; the benchmark never calls it. */
const ROUTER_KEY = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

/** Until the variant is up: the file exists, the server answers, or the health probe passes. */
async function ready(variant: Variant, socketPath: string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  const agent = variant === 'node' ? new Agent({ connect: { socketPath } }) : undefined;
  const up = (): Promise<boolean> => {
    if (variant === 'runtime') return probeHealth({ kind: 'unix', socketPath, uid: UID });
    if (!agent) return stat(socketPath).then(() => true, NO);
    return request('http://floor/', { dispatcher: agent }).then(
      async (res) => (await res.body.text()) === 'ok',
      NO,
    );
  };
  try {
    while (!(await up())) {
      if (performance.now() > deadline) throw new Error(`${variant}: not up after ${READY_TIMEOUT_MS} ms`);
      // The health probe is a whole MCP ping: polled less often than a file or a bare server.
      await sleep(variant === 'runtime' ? 2 : 1);
    }
  } finally {
    await agent?.close();
  }
}

const runtimeSpec = (variant: Variant): RuntimeSpec => ({
  tenantId: `floor-${variant}`,
  uid: UID,
  image: RUNTIME_IMAGE,
  isolation,
  plan,
  env: { BULKHEAD_ROUTER_PUBLIC_KEY: ROUTER_KEY },
});
const placement = (variant: Variant) => ({
  namespace: ns.namespace,
  socketDir: join(ns.runDir, variant),
  volumeName: `${ns.namespace}-floor`,
  containerName: `${ns.namespace}-${variant}`,
  generation: 1,
});

const figures: Record<string, number[]> = {};
const record = (name: string, ms: number): void => void (figures[name] ??= []).push(ms);

// The supervisor's own controller and adapter, as supervisor/supervisor.ts builds them, with a tenant
// of this plan and tier; every start boosted (no interval between a tenant's boosts), as at the engine.
const tenant = tenantRecord('floor-supervisor', { uid: UID, plan, isolation });
const controller = new RuntimeController({
  driver: new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    docker,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  }),
  image: RUNTIME_IMAGE,
  routerPublicKey: ROUTER_KEY,
  logger: pino({ level: 'silent' }),
  settings: lifecycleSettings({ startCpuBoostIntervalMs: 0 }),
});

/** One round of a variant run at the engine directly: each start timed from its create or start. */
async function atEngine(variant: Exclude<Variant, 'supervisor'>): Promise<void> {
  const socketPath = join(placement(variant).socketDir, CONTAINER_SOCKET_NAME);
  const spec = buildContainerSpec(runtimeSpec(variant), placement(variant), {
    startCpuQuota: boost?.CpuQuota,
  });
  const name = spec.name!;
  await docker
    .getContainer(name)
    .remove({ force: true })
    .catch(() => undefined);
  await rm(socketPath, { force: true });
  let t0 = performance.now();
  const entry = VARIANTS[variant];
  const container = await docker.createContainer(entry ? { ...spec, Entrypoint: [...entry], Cmd: [] } : spec);
  await container.start();
  await ready(variant, socketPath);
  record(`${variant}: cold start, volume kept`, performance.now() - t0);

  await container.stop({ t: 5 });
  await rm(socketPath, { force: true });
  t0 = performance.now();
  await container.start();
  await ready(variant, socketPath);
  record(`${variant}: wake from stopped`, performance.now() - t0);

  await container.pause();
  t0 = performance.now();
  await container.unpause();
  await ready(variant, socketPath);
  record(`${variant}: wake from paused`, performance.now() - t0);

  // The same, frozen and thawed in its host cgroup as the supervisor does (runtime-freezer.ts).
  await freezer.freeze(container, await container.inspect());
  t0 = performance.now();
  await freezer.thaw(container, 'host');
  await ready(variant, socketPath);
  record(`${variant}: wake from paused, host cgroup`, performance.now() - t0);
}

/** One round through the lifecycle controller: removed (volume kept), stopped, paused, each ensured. */
async function viaSupervisor(): Promise<void> {
  const timedEnsure = async (name: string): Promise<void> => {
    const t0 = performance.now();
    await controller.ensureRuntime(tenant);
    record(`supervisor: ${name}`, performance.now() - t0);
    // Its boost ended (the supervisor does that after the answer) before anything else starts.
    await controller.cpuBoostSettled(tenant.id);
  };
  await controller.remove(tenant.id, false);
  await timedEnsure('cold start, volume kept');
  if (!(await controller.idle(tenant.id, { event: 'stop' }))) throw new Error('supervisor: not stopped');
  await timedEnsure('wake from stopped');
  if (!(await controller.idle(tenant.id, { event: 'pause' }))) throw new Error('supervisor: not paused');
  await timedEnsure('wake from paused');
}

try {
  // One volume for all, on a disk whose root is the tenant's UID, as the supervisor makes it (the
  // runtime's reference pack keeps its store there).
  const init = await readyTenantVolume({
    docker,
    spec: runtimeSpec('runtime'),
    placement: placement('runtime'),
    toolImage: RUNTIME_IMAGE,
  });
  await init?.removeHelper();
  for (const variant of ['engine', 'node', 'runtime'] as const) {
    const { socketDir } = placement(variant);
    await mkdir(socketDir);
    await chown(socketDir, UID, UID);
  }
  console.log(
    `start floor: ${isolation}, plan small, image ${RUNTIME_IMAGE}, ${rounds} rounds, variants taking turns;` +
      ` CPU quota at start ${boost ? `${boost.CpuQuota / boost.CpuPeriod} CPUs (the boost)` : 'the plan'}`,
  );
  await controller.ensureRuntime(tenant); // first ever: its volume, unmeasured
  await controller.cpuBoostSettled(tenant.id);
  for (let round = 0; round < rounds; round += 1) {
    const order = (Object.keys(VARIANTS) as Variant[])[round % 2 ? 'reverse' : 'slice']();
    for (const variant of order) await (variant === 'supervisor' ? viaSupervisor() : atEngine(variant));
  }
  for (const [name, samples] of Object.entries(figures)) printFigures(name, samples);
} finally {
  await controller.close();
  await ns.cleanup();
}
