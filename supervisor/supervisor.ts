// Wires one supervisor: registry, Docker driver, runtime manager and the BullMQ worker.
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Installation } from '../tenants/contracts/installation.ts';
import { TenantRegistry } from '../tenants/registry/tenant-registry.ts';
import { DockerDriver } from './docker/docker-driver.ts';
import { startRuntimeWorker } from './jobs/runtime-worker.ts';
import { RuntimeManager } from './runtime-manager.ts';
import { IsolationVerifier } from './verify/isolation-verifier.ts';
import Docker from 'dockerode';

export interface SupervisorOptions {
  installation: Installation;
  runDir: string;
  image: string;
  routerPublicKeyFile: string;
  routerGid: number;
  logger: Logger;
}

export interface RunningSupervisor {
  manager: RuntimeManager;
  driver: DockerDriver;
  close(): Promise<void>;
}

export async function startSupervisor(options: SupervisorOptions): Promise<RunningSupervisor> {
  const { installation, logger } = options;
  const redis = new Redis({ ...installation.redis, lazyConnect: true });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const registry = new TenantRegistry({ redis, prefix: installation.registryPrefix });
  const docker = new Docker();
  const driver = new DockerDriver({
    docker,
    namespace: installation.namespace,
    runDir: options.runDir,
    routerGid: options.routerGid,
    logger,
  });
  const manager = new RuntimeManager({
    driver,
    image: options.image,
    routerPublicKey: await readFile(options.routerPublicKeyFile, 'utf8'),
    logger,
  });
  const worker = startRuntimeWorker({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    manager,
    registry,
    logger,
    verifier: new IsolationVerifier({ docker, driver }),
  });
  await worker.waitUntilReady();
  logger.info({ namespace: installation.namespace, image: options.image }, 'supervisor ready');
  return {
    manager,
    driver,
    async close() {
      await worker.close();
      redis.disconnect();
    },
  };
}
