// Benchmark (not a test): the CPU a control-plane container gets while tenant containers burn theirs,
// with the tenants under their own parent cgroup (supervisor/docker/container-spec.ts,
// TENANT_CGROUP_PARENT) against the engine's default, where each tenant is one more sibling of the
// control plane's containers (as a router, supervisor or Redis run by docker-compose.yml are).
// Each tenant is a container of the supervisor's own spec (plan small: half a CPU-second a second)
// whose process only spins, as hostile tenant code may; the probe is a container of the engine's
// default parent, with no quota, that spins too: what it gets is what a busy router would get. The
// two arrangements alternate within each round; CPU is each container's cgroup total, from the engine.
//   node test/bench/control-plane-cpu.ts [--tenants 8] [--seconds 4] [--rounds 3]
// Asserts nothing; every loop is bounded; its containers live in their own namespace and are removed.
import type Docker from 'dockerode';
import { buildContainerSpec, TENANT_CGROUP_PARENT } from '../../supervisor/docker/container-spec.ts';
import { containerUsage } from '../../supervisor/docker/container-usage.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { badArgument, benchArgs } from './bench-args.ts';
import { median } from './figures.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    tenants: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
  },
});
const TENANTS = Number(values.tenants);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(TENANTS) || TENANTS < 1 || TENANTS > 64) badArgument('--tenants takes 1 to 64');
if (!(SECONDS >= 1 && SECONDS <= 30)) badArgument('--seconds takes 1 to 30');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) badArgument('--rounds takes 1 to 20');

type Arrangement = 'tenants under their parent' | 'tenants as siblings';
const ARRANGEMENTS: Arrangement[] = ['tenants under their parent', 'tenants as siblings'];
/** A spin that ends by itself: each container outlives its measurement by a few seconds at most. */
const spin = (seconds: number): string[] => [
  'node',
  '-e',
  `const t=Date.now();while(Date.now()-t<${seconds}e3);`,
];

const ns = await testNamespace('bench-cpu');
const plan = planByName('small');
const labels = { [LABELS.managed]: 'true', [LABELS.namespace]: ns.namespace };

/** A tenant container as the supervisor specifies it, spinning instead of serving. */
function tenantSpec(index: number, arrangement: Arrangement): Docker.ContainerCreateOptions {
  const spec = buildContainerSpec(
    {
      tenantId: `spin-${index}`,
      uid: 100_700 + index,
      image: RUNTIME_IMAGE,
      isolation: 'runc',
      plan,
      env: {},
    },
    {
      namespace: ns.namespace,
      socketDir: ns.runDir,
      volumeName: `${ns.namespace}-unused`,
      containerName: `${ns.namespace}-spin-${index}`,
      generation: 1,
    },
  );
  const { Mounts: _none, CgroupParent: parent, ...host } = spec.HostConfig ?? {};
  return {
    ...spec,
    Entrypoint: spin(SECONDS + 6),
    Cmd: [],
    HostConfig: arrangement === 'tenants under their parent' ? { ...host, CgroupParent: parent } : host,
  };
}

/** CPU-seconds the container's cgroup has used, as the supervisor's metrics read it. */
async function cpuSeconds(container: Docker.Container): Promise<number> {
  return (await containerUsage(container, await container.inspect())).cpuSeconds;
}

/** One arrangement: the tenants spin, then the probe's and the tenants' CPU over SECONDS. */
async function measure(arrangement: Arrangement): Promise<{ probe: number; tenants: number }> {
  const tenants = await Promise.all(
    Array.from({ length: TENANTS }, (_, i) => ns.docker.createContainer(tenantSpec(i, arrangement))),
  );
  const probe = await ns.docker.createContainer({
    name: `${ns.namespace}-probe`,
    Image: RUNTIME_IMAGE,
    Entrypoint: spin(SECONDS + 4),
    Cmd: [],
    Labels: labels,
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'] },
  });
  try {
    await Promise.all(tenants.map((c) => c.start()));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await probe.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const read = () => Promise.all([cpuSeconds(probe), ...tenants.map(cpuSeconds)]);
    const started = performance.now();
    const before = await read();
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
    const after = await read();
    const seconds = (performance.now() - started) / 1_000;
    const used = after.map((value, i) => (value - before[i]!) / seconds);
    return { probe: used[0]!, tenants: used.slice(1).reduce((a, b) => a + b, 0) };
  } finally {
    await Promise.all([probe, ...tenants].map((c) => c.remove({ force: true }).catch(() => undefined)));
  }
}

try {
  console.log(
    `control-plane CPU: ${TENANTS} tenant containers (plan small, ${plan.cpus} CPU each) spinning beside a ` +
      `probe container of the engine's default parent; ${ROUNDS} rounds of ${SECONDS} s per arrangement; ` +
      `the tenants' parent: ${TENANT_CGROUP_PARENT}`,
  );
  const results: Record<Arrangement, { probe: number[]; tenants: number[] }> = {
    'tenants under their parent': { probe: [], tenants: [] },
    'tenants as siblings': { probe: [], tenants: [] },
  };
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? ARRANGEMENTS : [...ARRANGEMENTS].reverse();
    for (const arrangement of order) {
      const { probe, tenants } = await measure(arrangement);
      results[arrangement].probe.push(probe);
      results[arrangement].tenants.push(tenants);
    }
  }
  for (const arrangement of ARRANGEMENTS) {
    const { probe, tenants } = results[arrangement];
    const each = probe.map((p) => p.toFixed(2)).join('/');
    console.log(
      `${arrangement.padEnd(28)} probe (a control-plane container) ${median(probe).toFixed(2)} CPUs ` +
        `(rounds ${each}); the tenants together ${median(tenants).toFixed(2)} CPUs`,
    );
  }
} finally {
  await ns.cleanup();
}
