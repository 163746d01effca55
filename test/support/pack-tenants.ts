import { RUNTIME_IMAGE } from './namespace.ts';
// Tenants whose containers run a pack image, started through the real lifecycle controller and
// docker driver (the supervisor's own path: hardened spec, PIDs and memory limits, no network),
// and called over their sockets with the router's signed assertion.
import { generateKeyPairSync } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { createCallSigner, type CallSigner } from '../../router/dispatch/call-signer.ts';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import type { RuntimeControllerOptions } from '../../supervisor/lifecycle/controller-parts.ts';
import { RuntimeController } from '../../supervisor/lifecycle/runtime-controller.ts';
import { lifecycleSettings } from './lifecycle-settings.ts';
import type { TestNamespace } from './namespace.ts';
import { runtimeClient } from './pack-image.ts';
import { tenantRecord } from './tenant.ts';

export interface PackTenants {
  /** Starts (or finds) the tenant's container on `image`; returns its socket path. */
  start(tenant: string, uid: number, image: string): Promise<string>;
  client(
    tenant: string,
    options?: {
      era?: 'modern' | 'legacy';
      agent?: string;
      manualInput?: boolean;
      /** The packs the signed context lets the caller reach (resources, prompts); none unless given. */
      packs?: string[];
    },
  ): Promise<Client>;
  /** Recycles the tenant's runtime through its controller (a fresh container); returns its socket. */
  recycle(tenant: string, uid: number, image: string): Promise<string>;
  driver: DockerDriver;
  sign: CallSigner;
}

export async function packTenants(
  ns: TestNamespace,
  options: Pick<RuntimeControllerOptions, 'packSecrets' | 'egressPublicKey'> = {},
): Promise<PackTenants> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const sign = await createCallSigner(privateKey);
  const driver = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
  const controllers = new Map<string, RuntimeController>();
  const sockets = new Map<string, string>();
  const controllerFor = (image: string): RuntimeController => {
    let controller = controllers.get(image);
    if (!controller) {
      controller = new RuntimeController({
        driver,
        image,
        routerPublicKey: publicKey,
        logger: pino({ level: 'silent' }),
        settings: lifecycleSettings(),
        ...options,
      });
      controllers.set(image, controller);
    }
    return controller;
  };
  const start = async (tenant: string, uid: number, image: string): Promise<string> => {
    const endpoint = await controllerFor(image).ensure(tenantRecord(tenant, { uid }));
    if (endpoint.kind !== 'unix') throw new Error('expected a unix endpoint');
    sockets.set(tenant, endpoint.socketPath);
    return endpoint.socketPath;
  };
  return {
    driver,
    sign,
    start,
    async recycle(tenant, uid, image) {
      await controllerFor(image).recycle(tenantRecord(tenant, { uid }), 'test');
      return start(tenant, uid, image);
    },
    client(tenant, options = {}) {
      const socketPath = sockets.get(tenant);
      if (!socketPath) throw new Error(`tenant ${tenant} was not started`);
      const { agent = 'agent-1', packs, ...rest } = options;
      const context: CallContext = { tenant, user: 'alice', agent, scopes: [], ...(packs ? { packs } : {}) };
      return runtimeClient({ socketPath, sign, context, ...rest });
    },
  };
}
