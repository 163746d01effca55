// The supervisor's consumer side: runs runtime jobs against the RuntimeManager.
import { UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import {
  EnsureJob,
  InspectJob,
  RecycleJob,
  RemoveJob,
  RUNTIME_QUEUE,
  VerifyJob,
} from '../client/runtime-jobs.ts';
import type { IsolationVerifier } from '../verify/isolation-verifier.ts';
import type { RuntimeController } from '../lifecycle/runtime-controller.ts';
import { TenantSuspendedError } from '../lifecycle/runtime-controller.ts';
import { CircuitOpenError } from '../lifecycle/crash-breaker.ts';

export interface RuntimeWorkerOptions {
  redis: RedisConnection;
  prefix: string;
  manager: RuntimeController;
  registry: TenantRegistry;
  logger: Logger;
  concurrency?: number;
  /** Isolation evidence for `verify` jobs; absent in supervisors without a Docker engine. */
  verifier?: Pick<IsolationVerifier, 'verify'>;
}

export function startRuntimeWorker(options: RuntimeWorkerOptions): Worker {
  const { manager, registry, logger } = options;
  const worker = new Worker(
    RUNTIME_QUEUE,
    async (job) => {
      switch (job.name) {
        case 'ensure': {
          const { tenantId } = EnsureJob.parse(job.data);
          const tenant = await registry.get(tenantId);
          if (!tenant) throw new UnrecoverableError(`tenant_not_found: no tenant "${tenantId}"`);
          try {
            const { endpoint, epoch, info } = await manager.ensureRuntime(tenant);
            return { endpoint, epoch, runtimeId: info.runtimeId };
          } catch (error) {
            if (error instanceof TenantSuspendedError)
              throw new UnrecoverableError(`tenant_suspended: ${error.message}`);
            if (error instanceof CircuitOpenError)
              throw new UnrecoverableError(
                `runtime_backoff: ${Math.ceil(error.retryAfterMs)}: ${error.message}`,
              );
            throw error;
          }
        }
        case 'remove': {
          const { tenantId, purgeData } = RemoveJob.parse(job.data);
          await manager.remove(tenantId, purgeData);
          return {};
        }
        case 'inspect': {
          const { tenantId } = InspectJob.parse(job.data);
          const info = await manager.inspect(tenantId);
          if (!info) return { status: null };
          const {
            endpoint: _endpoint,
            exit: _exit,
            createdAt: _createdAt,
            oomKilled: _oom,
            ...status
          } = info;
          return { status };
        }
        case 'recycle': {
          const { tenantId, reason, runtimeId, requestedAtMs } = RecycleJob.parse(job.data);
          const tenant = await registry.get(tenantId);
          if (!tenant) throw new UnrecoverableError(`tenant_not_found: no tenant "${tenantId}"`);
          // Already replaced (another router reported the same event, or it crashed meanwhile).
          if (runtimeId && (await manager.inspect(tenantId))?.runtimeId !== runtimeId) return {};
          await manager.recycle(
            tenant,
            reason,
            requestedAtMs === undefined ? {} : { unlessCreatedAfterMs: requestedAtMs },
          );
          return {};
        }
        case 'verify': {
          const { tenantId } = VerifyJob.parse(job.data);
          const tenant = await registry.get(tenantId);
          if (!tenant) throw new UnrecoverableError(`tenant_not_found: no tenant "${tenantId}"`);
          if (!options.verifier)
            throw new UnrecoverableError('runtime_failed: this supervisor cannot verify');
          const others = (await registry.list()).map((t) => t.id).filter((id) => id !== tenantId);
          return { report: await options.verifier.verify(tenant, others) };
        }
        default:
          throw new UnrecoverableError(`runtime_failed: unknown job ${job.name}`);
      }
    },
    {
      connection: { ...options.redis, maxRetriesPerRequest: null },
      prefix: options.prefix,
      concurrency: options.concurrency ?? 16,
    },
  );
  worker.on('error', (error) => logger.warn({ err: error }, 'runtime worker error'));
  worker.on('failed', (job, error) =>
    logger.warn({ job: job?.name, data: job?.data, err: error }, 'runtime job failed'),
  );
  return worker;
}
