// The Docker driver and a lifecycle controller over it, in a test namespace of their own, with no
// router, queue or Redis state: for tests of the driver against the real engine.
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { lifecycleSettings } from './lifecycle-settings.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from './namespace.ts';

export interface DriverHarness {
  ns: TestNamespace;
  driver: DockerDriver;
  manager: RuntimeController;
}

export async function driverHarness(label: string): Promise<DriverHarness> {
  const ns = await testNamespace(label);
  const { publicKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const logger = pino({ level: 'silent' });
  const driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger,
  });
  const manager = new RuntimeController({
    driver,
    image: RUNTIME_IMAGE,
    routerPublicKey: publicKey,
    logger,
    settings: lifecycleSettings(),
  });
  return { ns, driver, manager };
}
