// What every control-plane use case works with: the tenant registry, the supervisor's runtime jobs,
// the audit trail, the secret store and who is acting (for the registry's change log). The CLI opens
// one per command; a test or another front end can open its own or assemble one from its parts.
import { Redis } from 'ioredis';
import { redactRedisUrl } from '../../kernel/redis/connection.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { PackRegistry } from '../../kernel/registry/pack-registry.ts';
import { PackClient } from '../../supervisor/client/pack-client.ts';
import type { UntakenNotice } from '../../supervisor/client/job-request.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { loadSecretKey, SecretStore } from '../../kernel/secrets/secret-store.ts';
import { EvidenceStore } from './evidence.ts';

export interface ControlPlane {
  registry: TenantRegistry;
  runtimes: RuntimeClient;
  /** Approved tool packs with their history. */
  packRegistry: PackRegistry;
  /** The supervisor's pack jobs (image builds, the approval sandbox). */
  packs: PackClient;
  audit: AuditTrail;
  secrets: SecretStore;
  /** Where `verify` keeps each tenant's latest report; without it reports are not kept. */
  evidence?: EvidenceStore;
  /** Recorded as the author of every change a use case makes. */
  actor: string;
}

/** A use case's running commentary (the CLI prints it as it goes). */
export type Progress = (message: string) => void;

export interface OpenedControlPlane extends ControlPlane {
  installation: Installation;
  /** The installation's rate-limit state (tenants/control-plane/quota.ts). */
  rates: { redis: Redis; prefix: string };
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  redisUrl: string;
  namespace: string;
  /** AES-256 key of the secret store (created 0600 on first use). */
  secretsKeyFile: string;
  actor: string;
  /** How long to wait for a supervisor job (starting a runtime, collecting evidence). */
  runtimeTimeoutMs?: number;
  /** Told while a supervisor job waits to be taken (the CLI prints it: job-request.ts). */
  untaken?: UntakenNotice | undefined;
}

/** Connects to Redis and the supervisor's job queue of one installation. */
export async function openControlPlane(options: ControlPlaneOptions): Promise<OpenedControlPlane> {
  const inst = installation({ namespace: options.namespace, redisUrl: options.redisUrl });
  const redis = new Redis({ ...inst.redis, lazyConnect: true, maxRetriesPerRequest: 1 });
  // Failures reach the caller as rejected commands (and connect() below); without a listener
  // ioredis would also print each reconnect attempt's error.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect(); // else ioredis keeps reconnecting and the process never exits
    throw new Error(
      `cannot reach Redis at ${redactRedisUrl(options.redisUrl)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const runtimes = new RuntimeClient({
    redis: inst.redis,
    prefix: inst.jobsPrefix,
    timeoutMs: options.runtimeTimeoutMs ?? 120_000,
    untaken: options.untaken,
  });
  const packs = new PackClient({ redis: inst.redis, prefix: inst.jobsPrefix, untaken: options.untaken });
  try {
    await Promise.all([runtimes.ready(), packs.ready()]);
    return {
      installation: inst,
      rates: { redis, prefix: inst.registryPrefix },
      registry: new TenantRegistry({ redis, prefix: inst.registryPrefix }),
      runtimes,
      packRegistry: new PackRegistry({ redis, prefix: inst.registryPrefix }),
      packs,
      audit: new AuditTrail({ redis, prefix: inst.registryPrefix }),
      evidence: new EvidenceStore({ redis, prefix: inst.registryPrefix }),
      secrets: new SecretStore({
        redis,
        prefix: inst.registryPrefix,
        key: await loadSecretKey(options.secretsKeyFile),
      }),
      actor: options.actor,
      async close() {
        await Promise.all([runtimes.close(), packs.close()]);
        redis.disconnect();
      },
    };
  } catch (error) {
    await Promise.all([runtimes.close(), packs.close()]);
    redis.disconnect();
    throw error;
  }
}
