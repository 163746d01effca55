// The supervisor seam on real Redis and BullMQ: the worker answers each job with a typed outcome
// and the client turns a refusal into a RuntimeRequestError with the refusal's code (and retry
// hint), while an unexpected exception fails the job and reaches the caller as `runtime_failed`.
// The lifecycle behind the worker is its declared port (RuntimeLifecycle), scripted per tenant;
// the registry is the real one.
import { Queue, QueueEvents, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { RuntimeClient, RuntimeRequestError } from '../../supervisor/client/runtime-client.ts';
import { RUNTIME_QUEUE, type RuntimeStatus } from '../../supervisor/client/runtime-jobs.ts';
import { startRuntimeWorker, type RuntimeLifecycle } from '../../supervisor/jobs/runtime-worker.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let worker: Worker;
let client: RuntimeClient;
let queue: Queue;
/** What the lifecycle does for each tenant's ensure. */
const ensureScript = new Map<string, () => Promise<never> | never>();
let releaseStuck: () => void = () => undefined;
/** The audit trail's offboarding and the lifecycle's removals, in the order the worker ran them. */
const removals: string[] = [];
/** Until when each removal's asker waited, as the lifecycle was told (it checks it again under the lock). */
const removeDeadlines: (number | undefined)[] = [];

const status: RuntimeStatus = {
  tenantId: 'alpha',
  runtimeId: 'c0ffee',
  state: 'running',
  specHash: 'abc',
  generation: 1,
  image: 'bulkhead/runtime:test',
};

const lifecycle: RuntimeLifecycle = {
  async ensureRuntime(tenant: TenantRecord) {
    const scripted = ensureScript.get(tenant.id);
    if (scripted) return scripted();
    return {
      endpoint: { kind: 'unix', socketPath: `/run/${tenant.id}.sock`, uid: tenant.uid },
      epoch: 3,
      info: { runtimeId: 'c0ffee' },
    };
  },
  // As the lifecycle does: what must come first once the remove is known to run, then the remove.
  remove: async (tenantId, purgeData, asked) => {
    await asked.first?.();
    removals.push(`remove ${tenantId} purgeData=${purgeData}`);
    removeDeadlines.push(asked.notAfterMs);
  },
  // More than the status, as the lifecycle's own record holds: the worker passes on the status only.
  inspect: (tenantId) =>
    Promise.resolve(
      tenantId === 'alpha'
        ? { ...status, endpoint: { kind: 'unix', socketPath: '/x', uid: 1 }, oomKilled: false }
        : undefined,
    ),
  recycle: () => Promise.resolve(),
};

async function refusalOf(work: Promise<unknown>): Promise<RuntimeRequestError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeRequestError);
  return error as RuntimeRequestError;
}

beforeAll(async () => {
  ns = await testNamespace('jobs');
  redis = new Redis(ns.installation.redis);
  const registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  for (const id of ['alpha', 'broken', 'looping', 'stuck', 'paused'])
    await registry.create({ id, plan: planByName('small'), isolation: 'runc' });
  ensureScript.set('broken', () => {
    throw new Error('disk on fire');
  });
  ensureScript.set('looping', () => {
    throw new BulkheadError('runtime_backoff', 'crash-looping', { retryAfterMs: 1234.4 });
  });
  ensureScript.set('paused', () => {
    throw new BulkheadError('tenant_suspended', 'tenant paused is suspended');
  });
  ensureScript.set(
    'stuck',
    () =>
      new Promise<never>((_resolve, reject) => {
        releaseStuck = () => reject(new Error('released'));
      }),
  );
  const { redis: connection, jobsPrefix: prefix } = ns.installation;
  worker = startRuntimeWorker({
    redis: connection,
    prefix,
    manager: lifecycle,
    registry,
    logger: pino({ level: 'silent' }),
    audit: {
      offboard: (tenant: TenantRecord) => {
        removals.push(`audit offboard ${tenant.id} ${tenant.retention.auditDays}d`);
        return Promise.resolve();
      },
    },
  });
  await worker.waitUntilReady();
  client = new RuntimeClient({ redis: connection, prefix, timeoutMs: 5_000 });
  await client.ready();
  queue = new Queue(RUNTIME_QUEUE, { connection, prefix });
});

afterAll(async () => {
  releaseStuck();
  await client?.close();
  await worker?.close();
  await queue?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

describe('runtime jobs', () => {
  it('hands out the endpoint, epoch and runtime of an ensured runtime', async () => {
    expect(await client.ensureRuntime('alpha')).toEqual({
      endpoint: { kind: 'unix', socketPath: '/run/alpha.sock', uid: expect.any(Number) as number },
      epoch: 3,
      runtimeId: 'c0ffee',
    });
  });

  it('passes on only the status of an inspected runtime, and null for none', async () => {
    expect(await client.inspect('alpha')).toEqual(status);
    expect(await client.inspect('broken')).toBeNull();
  });

  it('answers an unknown tenant with a tenant_not_found refusal, not a failed job', async () => {
    const before = await queue.getJobCounts('failed');
    const error = await refusalOf(client.ensure('nobody'));
    expect(error.code).toBe('tenant_not_found');
    expect(error.message).toBe('no tenant "nobody"');
    expect(isBulkheadError(error, 'tenant_not_found')).toBe(true);
    expect(error.errorClass).toBe('authorization');
    expect(await queue.getJobCounts('failed')).toEqual(before);
  });

  it('passes a lifecycle refusal on with its code and a whole-millisecond retry hint', async () => {
    const backoff = await refusalOf(client.ensure('looping'));
    expect(backoff).toMatchObject({ code: 'runtime_backoff', message: 'crash-looping', retryAfterMs: 1235 });
    const suspended = await refusalOf(client.ensure('paused'));
    expect(suspended).toMatchObject({ code: 'tenant_suspended', retryAfterMs: undefined });
  });

  it("hands the tenant's record to the audit trail's offboarding before a purge, and only then", async () => {
    removals.length = 0;
    await client.remove('alpha', { purgeData: false });
    await client.remove('alpha', { purgeData: true });
    expect(removals).toEqual([
      'remove alpha purgeData=false',
      'audit offboard alpha 365d',
      'remove alpha purgeData=true',
    ]);
  });

  it('refuses a remove its asker no longer waits for, and runs one it does', async () => {
    removals.length = 0;
    // As a remove whose submission timed out lands once Redis answers again: past its notAfterMs.
    const late = await queue.add('remove', {
      tenantId: 'alpha',
      purgeData: true,
      notAfterMs: Date.now() - 1,
    });
    const events = new QueueEvents(RUNTIME_QUEUE, {
      connection: ns.installation.redis,
      prefix: ns.installation.jobsPrefix,
    });
    try {
      expect(await late.waitUntilFinished(events, 5_000)).toMatchObject({
        ok: false,
        error: { code: 'runtime_failed', message: expect.stringContaining('not run') as string },
      });
    } finally {
      await events.close();
    }
    expect(removals).toEqual([]);
    await client.remove('alpha', { purgeData: false });
    expect(removals).toEqual(['remove alpha purgeData=false']);
    // Handed on: the lifecycle refuses it still if its asker gives up while it waits for the lock.
    expect(removeDeadlines.at(-1)).toBeGreaterThan(Date.now());
  });

  it('refuses verify where the supervisor has no verifier', async () => {
    const error = await refusalOf(client.verify('alpha'));
    expect(error).toMatchObject({ code: 'runtime_failed', message: 'this supervisor cannot verify' });
  });

  it('queues a prepare without waiting for it; a supervisor that cannot prepare refuses it', async () => {
    await client.requestPrepare('alpha');
    await expect
      .poll(
        async () =>
          (await queue.getJobs(['completed']))
            .filter((j) => j.name === 'prepare')
            .map((j) => j.returnvalue as unknown),
        { timeout: 5_000 },
      )
      .toEqual([{ ok: false, error: { code: 'runtime_failed', message: 'this supervisor cannot prepare' } }]);
  });

  it('fails the job on an unexpected exception: the caller gets runtime_failed with its text', async () => {
    const before = (await queue.getJobCounts('failed')).failed ?? 0;
    const error = await refusalOf(client.ensure('broken'));
    expect(error).toMatchObject({ code: 'runtime_failed', message: 'disk on fire' });
    expect((await queue.getJobCounts('failed')).failed).toBe(before + 1);
  });

  it('gives up on a job that does not finish in time with runtime_failed', async () => {
    const { redis: connection, jobsPrefix: prefix } = ns.installation;
    const impatient = new RuntimeClient({ redis: connection, prefix, timeoutMs: 300 });
    try {
      await impatient.ready();
      const error = await refusalOf(impatient.ensure('stuck'));
      expect(error.code).toBe('runtime_failed');
      expect(error.cause).toBeInstanceOf(Error);
    } finally {
      releaseStuck();
      await impatient.close();
    }
  });
});
