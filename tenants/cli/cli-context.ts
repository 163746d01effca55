// What every CLI command shares: configuration from the environment and clients to the registry
// and the supervisor. Opened lazily so `--help` needs neither Redis nor a supervisor.
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { redactRedisUrl } from '../../kernel/redis/connection.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { loadSecretKey, SecretStore } from '../secrets/secret-store.ts';

const Env = z.object({
  BULKHEAD_REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  BULKHEAD_NAMESPACE: z.string().default('default'),
  BULKHEAD_DEV_DIR: z.string().default(resolve(import.meta.dirname, '../../.bulkhead')),
  /** AES-256 key of the secret store (created 0600 on first use); default under BULKHEAD_DEV_DIR. */
  BULKHEAD_SECRETS_KEY_FILE: z.string().optional(),
  /** Who runs the CLI, for the registry's change log (default: the OS user). */
  BULKHEAD_ACTOR: z.string().min(1).optional(),
});

export class UsageError extends Error {}

export interface CliContext {
  installation: Installation;
  devDir: string;
  registry: TenantRegistry;
  runtimes: RuntimeClient;
  audit: AuditTrail;
  secrets: SecretStore;
  actor: string;
  close(): Promise<void>;
}

export function cliEnv(): z.infer<typeof Env> {
  return Env.parse(process.env);
}

export async function openContext(): Promise<CliContext> {
  const env = cliEnv();
  const inst = installation({ namespace: env.BULKHEAD_NAMESPACE, redisUrl: env.BULKHEAD_REDIS_URL });
  const redis = new Redis({ ...inst.redis, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect(); // else ioredis keeps reconnecting and the CLI never exits
    throw new Error(
      `cannot reach Redis at ${redactRedisUrl(env.BULKHEAD_REDIS_URL)}: ${(error as Error).message}`,
    );
  }
  const runtimes = new RuntimeClient({ redis: inst.redis, prefix: inst.jobsPrefix, timeoutMs: 120_000 });
  await runtimes.ready();
  return {
    installation: inst,
    devDir: env.BULKHEAD_DEV_DIR,
    registry: new TenantRegistry({ redis, prefix: inst.registryPrefix }),
    runtimes,
    audit: new AuditTrail({ redis, prefix: inst.registryPrefix }),
    secrets: new SecretStore({
      redis,
      prefix: inst.registryPrefix,
      key: await loadSecretKey(env.BULKHEAD_SECRETS_KEY_FILE ?? join(env.BULKHEAD_DEV_DIR, 'secrets.key')),
    }),
    actor: `cli:${env.BULKHEAD_ACTOR ?? userInfo().username}`,
    async close() {
      await runtimes.close();
      redis.disconnect();
    },
  };
}
