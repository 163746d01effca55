// Benchmark (not a test): the floor under a tenant runtime's start on this machine and engine. A
// container made by the supervisor's own spec (supervisor/docker/container-spec.ts: the runtime
// image, the tenant's UID, no network, read-only root, the plan's limits, the socket directory and
// the volume, the start-time CPU boost where the tier has one) runs, instead of the runtime, one of:
//   engine  a shell that creates a file in the socket directory and sleeps: the engine's own part
//   node    a bare Node HTTP server on the tenant socket: the engine and a Node start-up, no Bulkhead
// Each is timed as the lifecycle benchmark times the runtime (test/bench/lifecycle.ts): a cold start
// with the volume kept (create and start), a wake from stopped (start) and from paused (unpause),
// each until the file appears (engine) or the server answers on the socket (node). The variants
// take turns round by round. Everything is namespaced and removed. Asserts nothing.
//   node test/bench/start-floor.ts [--rounds 8] [--isolation runc|gvisor]
import { chown, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { CONTAINER_SOCKET_NAME } from '../../kernel/wire/runtime-endpoint.ts';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { startCpuLimitFor } from '../../supervisor/runtime/runtime-cpu.ts';
import { RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { printFigures } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    rounds: { type: 'string', default: '8' },
    isolation: { type: 'string', default: 'runc' },
  },
});
const rounds = Number(values.rounds);
const isolation = values.isolation === 'gvisor' ? 'gvisor' : 'runc';
if (values.isolation !== isolation) throw new Error('--isolation: runc or gvisor');

const UID = 100_950;
const READY_TIMEOUT_MS = 30_000;
const plan = planByName('small');
// The supervisor's default boost (docs/cpu-boost.md): 2 CPUs until the first answer; none on gVisor.
const boost = startCpuLimitFor(plan, isolation, 2);
const NODE_SERVER = [
  "const p = process.env.BULKHEAD_SOCKET_PATH; require('node:fs').rmSync(p, { force: true });",
  "process.umask(0); require('node:http').createServer((q, r) => r.end('ok')).listen(p);",
].join(' ');
const VARIANTS = {
  engine: ['/bin/sh', '-c', 'touch "$BULKHEAD_SOCKET_PATH" && exec sleep 3600'],
  node: ['node', '-e', NODE_SERVER],
} as const;
type Variant = keyof typeof VARIANTS;

const ns = await testNamespace('bench-floor');
const { docker } = ns;

/** Until the variant is up: the file exists (engine), or the server answers on the socket (node). */
async function ready(variant: Variant, socketPath: string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  const agent = variant === 'node' ? new Agent({ connect: { socketPath } }) : undefined;
  try {
    for (;;) {
      if (performance.now() > deadline) throw new Error(`${variant}: not up after ${READY_TIMEOUT_MS} ms`);
      if (!agent) {
        if (
          await stat(socketPath).then(
            () => true,
            () => false,
          )
        )
          return;
      } else {
        const answered = await request('http://floor/', { dispatcher: agent }).then(
          async (res) => (await res.body.text()) === 'ok',
          () => false,
        );
        if (answered) return;
      }
      await sleep(1);
    }
  } finally {
    await agent?.close();
  }
}

const figures: Record<string, number[]> = {};
const record = (name: string, ms: number): void => void (figures[name] ??= []).push(ms);

try {
  const volumeName = `${ns.namespace}-floor`;
  await docker.createVolume({ Name: volumeName, Labels: { [LABELS.namespace]: ns.namespace } });
  const places = Object.fromEntries(
    await Promise.all(
      (Object.keys(VARIANTS) as Variant[]).map(async (variant) => {
        const socketDir = join(ns.runDir, variant);
        await mkdir(socketDir);
        await chown(socketDir, UID, UID);
        return [variant, socketDir] as const;
      }),
    ),
  ) as Record<Variant, string>;
  console.log(
    `start floor: ${isolation}, plan small, image ${RUNTIME_IMAGE}, ${rounds} rounds, variants taking turns;` +
      ` CPU quota at start ${boost ? `${boost.CpuQuota / boost.CpuPeriod} CPUs (the boost)` : 'the plan'}`,
  );
  for (let round = 0; round < rounds; round += 1) {
    const order = (Object.keys(VARIANTS) as Variant[])[round % 2 ? 'reverse' : 'slice']();
    for (const variant of order) {
      const socketPath = join(places[variant], CONTAINER_SOCKET_NAME);
      const spec = buildContainerSpec(
        { tenantId: `floor-${variant}`, uid: UID, image: RUNTIME_IMAGE, isolation, plan, env: {} },
        {
          namespace: ns.namespace,
          socketDir: places[variant],
          volumeName,
          containerName: `${ns.namespace}-${variant}`,
          generation: 1,
        },
        { startCpuQuota: boost?.CpuQuota },
      );
      const name = spec.name!;
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
      await rm(socketPath, { force: true });
      let t0 = performance.now();
      const container = await docker.createContainer({
        ...spec,
        Entrypoint: [...VARIANTS[variant]],
        Cmd: [],
      });
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
    }
  }
  for (const [name, samples] of Object.entries(figures)) printFigures(name, samples);
} finally {
  await ns.cleanup();
}
