// Wires one router process: token verifier, tenant directory, runtime client, dispatcher, app.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RuntimeClient } from '../supervisor/client/runtime-client.ts';
import { RouterRuntimeView } from '../supervisor/client/runtime-epochs.ts';
import type { Installation } from '../tenants/contracts/installation.ts';
import { ALL_SCOPES } from '../tenants/contracts/tool-manifest.ts';
import { TenantRegistry } from '../tenants/registry/tenant-registry.ts';
import { createApp } from './app.ts';
import { createTokenVerifier } from './auth/token-verifier.ts';
import { createCallSigner } from './dispatch/call-signer.ts';
import { TenantDispatcher } from './dispatch/tenant-dispatcher.ts';
import { TenantDirectory } from './tenancy/tenant-directory.ts';

export interface RouterOptions {
  installation: Installation;
  host: string;
  port: number;
  resourceUrl: string;
  issuer: string;
  jwksUri?: string;
  algorithms: string[];
  tenantClaim: string;
  clockToleranceSeconds: number;
  callAssertionPrivateKey: string;
  logger: Logger;
  /** A tenant call that gets no answer within this time fails as `transient` (default 30 s). */
  callTimeoutMs?: number;
  /** How long a verified route is trusted before its runtime epoch is checked again (default 500 ms). */
  routeFreshnessMs?: number;
}

export interface RunningRouter {
  url: string;
  close(): Promise<void>;
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { installation, logger } = options;
  const redis = new Redis({ ...installation.redis, lazyConnect: true });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await redis.connect();
  const runtimes = new RuntimeClient({
    redis: installation.redis,
    prefix: installation.jobsPrefix,
    onError: (error) => logger.warn({ err: error }, 'runtime job queue error'),
  });
  await runtimes.ready();
  const dispatcher = new TenantDispatcher({
    runtimes,
    sign: await createCallSigner(options.callAssertionPrivateKey),
    logger,
    ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
    ...(options.routeFreshnessMs === undefined ? {} : { routeFreshnessMs: options.routeFreshnessMs }),
    stateView: new RouterRuntimeView({ redis, prefix: installation.registryPrefix }),
  });
  const app = createApp({
    resourceUrl: options.resourceUrl,
    authorizationServers: [options.issuer],
    scopesSupported: [...ALL_SCOPES],
    verify: createTokenVerifier({
      issuer: options.issuer,
      audience: options.resourceUrl,
      algorithms: options.algorithms,
      tenantClaim: options.tenantClaim,
      clockToleranceSeconds: options.clockToleranceSeconds,
      ...(options.jwksUri ? { jwksUri: options.jwksUri } : {}),
    }),
    tenants: new TenantDirectory({
      source: new TenantRegistry({ redis, prefix: installation.registryPrefix }),
    }),
    dispatcher,
    logger,
  });
  const server: Server = app.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  logger.info({ url, resource: options.resourceUrl }, 'router listening');
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
      await runtimes.close();
      redis.disconnect();
    },
  };
}
