// The supervisor's consumer side: runs runtime jobs against the tenant runtimes' lifecycle. A job
// answers with its outcome (runtime-jobs.ts): its value, or a refusal the client raises with the
// refusal's code (an unknown or suspended tenant, a runtime backing off). Only an unexpected
// exception fails the job; the client sees that as `runtime_failed`.
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';
import type { IsolationReport } from '../client/isolation-report.ts';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import { traceJob } from './job-trace.ts';
import {
  JOB_FAILURE_CODES,
  RUNTIME_JOBS,
  RUNTIME_QUEUE,
  refuseUnwaited,
  type RemoveAsked,
  type JobFailure,
  type JobOutcome,
  type JobValue,
  type RuntimeJobName,
  type RuntimeStatus,
} from '../client/runtime-jobs.ts';

/** What the worker needs of the lifecycle owner: the port it drives, not its class. */
export interface RuntimeLifecycle {
  ensureRuntime(
    tenant: TenantRecord,
  ): Promise<{ endpoint: RuntimeEndpoint; epoch: number; info: { runtimeId: string } }>;
  remove(tenantId: string, purgeData: boolean, asked: RemoveAsked): Promise<void>;
  inspect(tenantId: string): Promise<RuntimeStatus | undefined>;
  recycle(
    tenant: TenantRecord,
    reason: string,
    options: { unlessCreatedAfterMs?: number; runtimeId?: string },
  ): Promise<unknown>; // whether it acted is not the worker's to know
}

export interface RuntimeWorkerOptions {
  redis: RedisConnection;
  prefix: string;
  manager: RuntimeLifecycle;
  registry: Pick<TenantRegistry, 'get' | 'list'>;
  logger: Logger;
  concurrency?: number;
  /** Spans of ensure jobs that carry a call's trace context; none: the supervisor does not trace. */
  tracing?: Tracing | undefined;
  /**
   * Where an ensure records the tenant's activity: the idle tiers count from it. A router recorded
   * its call already; an ensure of the control plane (onboard, resume, update) had not, and the next
   * idle pass would pause or stop a long-idle tenant's runtime right after starting it.
   */
  activity?: { touch(tenantId: string): Promise<void> };
  /** Readies a tenant's image and volume for `prepare` jobs; absent: they are refused. */
  preparer?: { prepare(tenant: TenantRecord): Promise<void> };
  /**
   * Keeps an offboarded tenant's sealed audit trail under the retention of its record
   * (AuditSealer.offboard), run by a `remove` job with `purgeData`, which offboarding sends while the
   * record still exists; absent without a signing key (nothing is sealed).
   */
  audit?: { offboard(tenant: TenantRecord): Promise<unknown> } | undefined;
  /**
   * Forgets a purged tenant's security counts (its socket tampering count, SocketTamperLog.forget,
   * and its share of the router's, forgetRouterSecurityCounts), once the purge is done.
   */
  securityCounts?: { forget(tenantId: string): Promise<void> } | undefined;
  /** Isolation evidence for `verify` jobs; absent in supervisors without a Docker engine. */
  verifier?: { verify(tenant: TenantRecord, otherTenantIds: string[]): Promise<IsolationReport> };
}

function refuse(code: JobFailure['code'], message: string): never {
  throw new BulkheadError(code, message);
}

/** Every job's work: it returns the job's value, or refuses by throwing a BulkheadError. */
function handlers(options: RuntimeWorkerOptions): {
  [N in RuntimeJobName]: (data: unknown) => Promise<JobValue<N>>;
} {
  const { manager, registry } = options;
  const tenantOf = async (tenantId: string): Promise<TenantRecord> =>
    (await registry.get(tenantId)) ?? refuse('tenant_not_found', `no tenant "${tenantId}"`);
  return {
    async ensure(data) {
      const { tenantId, traceparent } = RUNTIME_JOBS.ensure.data.parse(data);
      return traceJob(options.tracing, traceparent, tenantId, async () => {
        const tenant = await tenantOf(tenantId);
        // Beside the bring-up, off its path; a failure only leaves the older time.
        const touched = options.activity?.touch(tenantId).catch(() => undefined);
        const { endpoint, epoch, info } = await manager.ensureRuntime(tenant);
        await touched;
        return { endpoint, epoch, runtimeId: info.runtimeId };
      });
    },
    async remove(data) {
      const { tenantId, purgeData, notAfterMs } = RUNTIME_JOBS.remove.data.parse(data);
      // Its asker has given up on it (the job landed or was taken late): not run (RemoveJob). The
      // lifecycle asks again once it holds the tenant's lock.
      refuseUnwaited(tenantId, notAfterMs);
      // Before the purge, and only once the remove is known to run (its asker still waits, checked
      // again under the tenant's lock): a trail ended for a remove then refused would leave a tenant
      // resumed meanwhile without one. A purge that fails keeps the record, and offboarding runs
      // both again.
      const tenant = purgeData && options.audit ? await registry.get(tenantId) : undefined;
      const first = tenant && options.audit ? () => options.audit!.offboard(tenant) : undefined;
      await manager.remove(tenantId, purgeData, { notAfterMs, first });
      if (purgeData) await options.securityCounts?.forget(tenantId);
      return {};
    },
    async inspect(data) {
      const { tenantId } = RUNTIME_JOBS.inspect.data.parse(data);
      const info = await manager.inspect(tenantId);
      if (!info) return { status: null };
      const { runtimeId, state, specHash, generation, image } = info;
      return { status: { tenantId: info.tenantId, runtimeId, state, specHash, generation, image } };
    },
    async recycle(data) {
      const { tenantId, reason, runtimeId, requestedAtMs, failed } = RUNTIME_JOBS.recycle.data.parse(data);
      // Already replaced (another router reported the same event, or it crashed meanwhile): the
      // controller checks that under the tenant's lock.
      await manager.recycle(await tenantOf(tenantId), reason, {
        ...(failed ? { failed } : {}),
        ...(runtimeId ? { runtimeId } : {}),
        ...(requestedAtMs === undefined ? {} : { unlessCreatedAfterMs: requestedAtMs }),
      });
      return {};
    },
    async prepare(data) {
      const { tenantId } = RUNTIME_JOBS.prepare.data.parse(data);
      const tenant = await tenantOf(tenantId);
      // A suspended tenant is readied by the ensure that resumes it.
      if (tenant.status !== 'active') return {};
      if (!options.preparer) return refuse('runtime_failed', 'this supervisor cannot prepare');
      await options.preparer.prepare(tenant);
      return {};
    },
    async verify(data) {
      const { tenantId } = RUNTIME_JOBS.verify.data.parse(data);
      const tenant = await tenantOf(tenantId);
      if (!options.verifier) return refuse('runtime_failed', 'this supervisor cannot verify');
      const others = (await registry.list()).map((t) => t.id).filter((id) => id !== tenantId);
      return { report: await options.verifier.verify(tenant, others) };
    },
  };
}

/** An expected refusal, as the job's answer; undefined for anything unexpected. */
function refusalOf(error: unknown): JobFailure | undefined {
  if (!isBulkheadError(error, ...JOB_FAILURE_CODES)) return undefined;
  const { code, message, retryAfterMs } = error;
  return retryAfterMs === undefined
    ? { code, message }
    : { code, message, retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)) };
}

function isJobName(name: string): name is RuntimeJobName {
  return Object.hasOwn(RUNTIME_JOBS, name);
}

export function startRuntimeWorker(options: RuntimeWorkerOptions): Worker {
  const { logger } = options;
  const run = handlers(options);
  const worker = new Worker(
    RUNTIME_QUEUE,
    async (job): Promise<JobOutcome<unknown>> => {
      try {
        if (!isJobName(job.name)) refuse('runtime_failed', `unknown job ${job.name}`);
        return { ok: true, value: await run[job.name](job.data) };
      } catch (error) {
        const refusal = refusalOf(error);
        if (!refusal) throw error;
        logger.info({ job: job.name, data: job.data, refusal }, 'runtime job refused');
        return { ok: false, error: refusal };
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
