// Egress gateway process entry: configuration from the environment (egress/config.ts), then wiring.
// Holds no Docker socket: it needs the tenant registry (Redis), the run directory's tenant socket
// directories (as a member of the router's group), its own signing key (how it proves itself to each
// tenant's bridge) and, to add upstream credentials, the secret key.
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig, stopOnSignals } from '../kernel/process/process-entry.ts';
import { startTracing } from '../kernel/telemetry/tracing.ts';
import { installation } from '../kernel/tenant/installation.ts';
import { secretStoreOnceKeyed } from '../kernel/secrets/secret-store.ts';
import { egressConfig } from './config.ts';
import { startEgressGateway, type CredentialSource } from './gateway.ts';

/**
 * The secret store once its key exists: the operator CLI creates the key on its first use, which
 * may come after this process started (its key file is mounted read-only here).
 */
function secretsOnceKeyed(options: { file: string; redis: Redis; prefix: string }): CredentialSource {
  const store = secretStoreOnceKeyed(options);
  return {
    async get(tenant, name) {
      return (await store())?.get(tenant, name);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig(egressConfig);
  if (!config) return;
  const { redisUrl, namespace, logLevel, secretsKeyFile, otlpTracesEndpoint, keyFile, ...rest } = config;
  const { metricsPort, metricsHost, metricsTenantLabel, ...settings } = rest;
  const signingKey = createPrivateKey(await readFile(keyFile, 'utf8'));
  const logger = pino({ name: 'egress-gateway', level: logLevel });
  const tracing = startTracing({ service: 'bulkhead-egress', endpoint: otlpTracesEndpoint });
  const inst = installation({ namespace, redisUrl });
  const secretsRedis = secretsKeyFile ? new Redis(inst.redis) : undefined;
  const gateway = await startEgressGateway({
    ...settings,
    installation: inst,
    logger,
    signingKey,
    tracing,
    ...(metricsPort === undefined
      ? {}
      : { metrics: { port: metricsPort, host: metricsHost, tenantLabel: metricsTenantLabel } }),
    ...(secretsKeyFile && secretsRedis
      ? {
          secrets: secretsOnceKeyed({
            file: secretsKeyFile,
            redis: secretsRedis,
            prefix: inst.registryPrefix,
          }),
        }
      : {}),
  });
  stopOnSignals(
    async () => {
      await gateway.close();
      secretsRedis?.disconnect();
      await tracing?.shutdown();
    },
    () => logger.info('stopping'),
  );
}

await main();
