// Benchmark (not a test): where one cold start's time goes, phase by phase, on the real engine, for
// the supervisor's Docker adapter alone (no router, no BullMQ). Per round the tenant's container is
// removed (volume kept) and ensured again; the phases are timed from the supervisor's side:
//   create   the engine's container create (the adapter's inspect and socket directory included)
//   start    the engine's start until it returns
//   listen   from the start's return until the runtime's socket exists (Node start-up, module
//            loading, the runtime's own init)
//   healthy  from the socket until the first 200 from /healthz (its first MCP ping)
// Variants alternate round by round, so each figure has its baseline from the same minutes:
//   --variants cache,nocache   the image's V8 code cache used, or not (BULKHEAD_CODE_CACHE=off;
//                              runtime-image/src/code-cache-entry.ts)
//   period100                  the code cache, the plan's CPU share as NanoCpus (the engine's
//                              default 100 ms period, as before CPU_PERIOD_US): --variants cache,period100
//   --images a,b               each variant on each of these runtime images (default
//                              BULKHEAD_RUNTIME_IMAGE): a change's image beside main's
// Everything it creates lives in its own namespace and is removed.
//   node test/bench/start-phases.ts [--rounds 10] [--isolation runc|gvisor] [--variants cache,nocache] [--images a,b]
import { generateKeyPairSync } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import type { RuntimeSpec } from '../../supervisor/runtime/runtime-driver.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { printFigures } from './figures.ts';
import { NanoCpusDocker } from './nanocpus-docker.ts';
import { RUNTIME_IMAGE, testNamespace } from '../support/namespace.ts';
import { badArgument, benchArgs, isolationArg } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    rounds: { type: 'string', default: '10' },
    isolation: { type: 'string', default: 'runc' },
    variants: { type: 'string', default: 'cache,nocache' },
    images: { type: 'string', default: RUNTIME_IMAGE },
  },
});
const ISOLATION = isolationArg(values.isolation);
const ROUNDS = Math.min(50, Number(values.rounds));
const VARIANT_ENV: Record<string, Record<string, string>> = {
  cache: {},
  nocache: { BULKHEAD_CODE_CACHE: 'off' },
  period100: {},
};
const IMAGES = values.images.split(',').filter(Boolean);
const VARIANT_NAMES = values.variants.split(',').filter(Boolean);
if (VARIANT_NAMES.length === 0 || VARIANT_NAMES.some((v) => !Object.hasOwn(VARIANT_ENV, v)))
  badArgument(`--variants takes any of cache, nocache, period100, not "${values.variants}"`);
const VARIANTS = IMAGES.flatMap((image) =>
  VARIANT_NAMES.map((env) => ({
    image,
    env,
    label: IMAGES.length > 1 ? `${image.split(':').at(-1)} ${env}` : env,
  })),
);

const PHASES = ['create', 'start', 'listen', 'healthy', 'total'] as const;
type Phase = (typeof PHASES)[number];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The engine client with its create and start calls timed (the adapter's own code unchanged). */
class TimedDocker extends NanoCpusDocker {
  lastCreateMs = 0;
  lastStartMs = 0;
  lastStartEnd = 0;
  override nanoCpus = false;

  override async createContainer(options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const t0 = performance.now();
    try {
      return await super.createContainer(options);
    } finally {
      this.lastCreateMs = performance.now() - t0;
    }
  }

  override getContainer(id: string): Docker.Container {
    const container = super.getContainer(id);
    const start = container.start.bind(container) as () => Promise<unknown>;
    container.start = (async () => {
      const t0 = performance.now();
      try {
        return await start();
      } finally {
        this.lastStartEnd = performance.now();
        this.lastStartMs = this.lastStartEnd - t0;
      }
    }) as typeof container.start;
    return container;
  }
}

async function main(): Promise<void> {
  const ns = await testNamespace('bench-phases');
  const docker = new TimedDocker();
  const driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    docker,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
  const { publicKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const specOf = (variant: (typeof VARIANTS)[number]): RuntimeSpec => ({
    tenantId: 'phases',
    uid: 100_700,
    image: variant.image,
    isolation: ISOLATION,
    plan: planByName('small'),
    env: { BULKHEAD_ROUTER_PUBLIC_KEY: publicKey, ...VARIANT_ENV[variant.env] },
  });
  console.log(
    `start phases: ${ISOLATION}, plan small, images ${IMAGES.join(' / ')}, rounds ${ROUNDS}, variants ${VARIANTS.map((v) => v.label).join(' / ')} (alternating)`,
  );
  const samples = new Map<string, Record<Phase, number[]>>(
    VARIANTS.map((v) => [v.label, { create: [], start: [], listen: [], healthy: [], total: [] }]),
  );
  try {
    // One unmeasured start creates the volume (and warms the engine's image cache).
    await driver.ensure(specOf(VARIANTS[0]!), { generation: 1 });
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of VARIANTS) {
        await driver.remove('phases', { purgeData: false });
        await sleep(200);
        docker.nanoCpus = variant.env === 'period100';
        const t0 = performance.now();
        const info = await driver.ensure(specOf(variant), { generation: 1 });
        const socketPath = (info.endpoint as { socketPath: string }).socketPath;
        const startEnd = docker.lastStartEnd;
        for (let i = 0; ; i++) {
          if (
            await stat(socketPath).then(
              () => true,
              () => false,
            )
          )
            break;
          if (i > 10_000) throw new Error('the runtime never listened');
          await sleep(2);
        }
        const listening = performance.now();
        for (let i = 0; !(await probeHealth(info.endpoint)); i++) {
          if (i > 2_000) throw new Error('the runtime never answered healthy');
          await sleep(2);
        }
        const healthy = performance.now();
        const s = samples.get(variant.label)!;
        s.create.push(docker.lastCreateMs);
        s.start.push(docker.lastStartMs);
        s.listen.push(listening - startEnd);
        s.healthy.push(healthy - listening);
        s.total.push(healthy - t0);
      }
    }
    for (const phase of PHASES)
      for (const variant of VARIANTS)
        printFigures(`${phase.padEnd(8)} ${variant.label}`, samples.get(variant.label)![phase], {
          labelWidth: 32,
        });
  } finally {
    await ns.cleanup();
  }
}

await main();
