// Two supervisors ensuring one tenant at once (a rolling deploy's overlap): the engine keeps one
// container (its name), and neither may break the runtime the other brought up. The second looked
// before the first created (the engine's answer reached it late), so it took the tenant for absent
// and emptied the socket directory before its own create: the first's runtime, already serving,
// lost its socket for good, and both starts waited for a socket that never came. The real engine
// and runtime image; the late answer is the engine's own, delivered after the first ensure.
import { generateKeyPairSync } from 'node:crypto';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { probeHealth } from '../../supervisor/runtime/health-probe.ts';
import { lifecycleSettings } from '../support/lifecycle-settings.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';
import { tenantRecord } from '../support/tenant.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

let ns: TestNamespace;
const { publicKey } = generateKeyPairSync('ed25519', {
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

beforeAll(async () => {
  ns = await testNamespace('racing');
});

afterAll(async () => {
  await ns.cleanup();
});

interface Supervisor {
  driver: DockerDriver;
  manager: RuntimeController;
}

function supervisor(docker: Docker): Supervisor {
  const logger = pino({ level: 'silent' });
  const driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger,
    docker,
  });
  const settings = lifecycleSettings({ routeSettleMs: 0, drainSeconds: 0, healthTimeoutMs: 5_000 });
  return {
    driver,
    manager: new RuntimeController({
      driver,
      image: RUNTIME_IMAGE,
      routerPublicKey: publicKey,
      logger,
      settings,
    }),
  };
}

/**
 * An engine client whose first look at container `name` is answered as the engine answered it
 * then, but handed over only once `late` resolves; `asked` resolves when the engine has answered.
 */
function lateFirstLook(name: string, late: Promise<unknown>): { docker: Docker; asked: Promise<void> } {
  const docker = new Docker();
  const getContainer = docker.getContainer.bind(docker);
  let answered = (): void => undefined;
  const asked = new Promise<void>((resolve) => (answered = resolve));
  let first = true;
  docker.getContainer = (id: string) => {
    const container = getContainer(id);
    if (id !== name || !first) return container;
    first = false;
    const inspect = container.inspect.bind(container) as () => Promise<Docker.ContainerInspectInfo>;
    container.inspect = (async () => {
      const answer = await inspect().then(
        (info) => ({ info }),
        (error: unknown) => ({ error }),
      );
      answered();
      await late;
      if ('error' in answer) throw answer.error;
      return answer.info;
    }) as typeof container.inspect;
    return container;
  };
  return { docker, asked };
}

/**
 * Tenant `id` ensured by a first supervisor while a second one's ensure (`secondOf`) waits for the
 * engine's late answer to its first look: the first's runtime, then the second's outcome.
 */
async function race<T>(id: string, uid: number, secondOf: (s: Supervisor, t: TenantRecord) => Promise<T>) {
  const t = tenantRecord(id, { uid });
  const first = supervisor(new Docker());
  let firstDone = (): void => undefined;
  const late = new Promise<void>((resolve) => (firstDone = resolve));
  const { docker, asked } = lateFirstLook(first.driver.placement(id, 0).containerName, late);
  const second = secondOf(supervisor(docker), t);
  second.catch(() => undefined); // awaited below
  await asked; // the engine told the second supervisor "no such container"
  const up = await first.manager.ensureRuntime(t);
  expect(await probeHealth(up.endpoint)).toBe(true);
  firstDone();
  return { up, second: await second };
}

it("a second supervisor that found the tenant absent late adopts the first's runtime, and leaves its socket alone", async () => {
  const { up, second } = await race('contested', 100_401, (s, t) => s.manager.ensureRuntime(t));
  expect(second.info.runtimeId).toBe(up.info.runtimeId);
  expect(await probeHealth(up.endpoint)).toBe(true);
  const containers = await ns.docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.tenant}=contested`] },
  });
  expect(containers.map((c) => c.Id)).toEqual([up.info.runtimeId]);
}, 60_000);

it("the driver's own late look (a create right after it) leaves the serving runtime's socket alone", async () => {
  const { up, second } = await race('contested-driver', 100_402, (s, t) =>
    s.driver.ensure(s.manager.specFor(t), { generation: 1 }),
  );
  expect(second.runtimeId).toBe(up.info.runtimeId);
  expect(await probeHealth(up.endpoint)).toBe(true);
}, 60_000);
