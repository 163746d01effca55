// The supervisor's pack jobs (supervisor/client/pack-jobs.ts): a build or a sandbox listing runs
// here because only the supervisor holds the Docker socket. A refusal answers `pack_rejected`
// with a message for the operator; anything unexpected fails the job.
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { issueLines } from '../../kernel/errors/input-issues.ts';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RedisConnection } from '../../kernel/redis/connection.ts';
import { PACK_JOBS, PACK_QUEUE, type PackJobName, type PackJobValue } from '../client/pack-jobs.ts';

/** What the worker needs of the engine side (supervisor/docker/pack-images.ts). */
export interface PackImageWork {
  build(dir: string): Promise<PackJobValue<'build'>>;
  list(ref: string): Promise<PackJobValue<'list'>>;
}

export interface PackWorkerOptions {
  redis: RedisConnection;
  prefix: string;
  images: PackImageWork;
  logger: Logger;
}

function isPackJob(name: string): name is PackJobName {
  return Object.hasOwn(PACK_JOBS, name);
}

export function startPackWorker(options: PackWorkerOptions): Worker {
  const { images, logger } = options;
  const run = {
    build: (data: unknown) => images.build(PACK_JOBS.build.data.parse(data).dir),
    list: (data: unknown) => images.list(PACK_JOBS.list.data.parse(data).ref),
  };
  const worker = new Worker(
    PACK_QUEUE,
    async (job) => {
      try {
        if (!isPackJob(job.name)) throw new Error(`unknown pack job ${job.name}`);
        return { ok: true, value: await run[job.name](job.data) };
      } catch (error) {
        const message =
          error instanceof ZodError
            ? `invalid pack manifest: ${issueLines(error).join('; ')}`
            : isBulkheadError(error, 'pack_rejected')
              ? error.message
              : (error as { code?: string }).code === 'ENOENT'
                ? `not found: ${(error as Error).message}`
                : undefined;
        if (message === undefined) throw error;
        logger.info({ job: job.name, data: job.data, message }, 'pack job refused');
        return { ok: false, error: { code: 'pack_rejected', message } };
      }
    },
    { connection: { ...options.redis, maxRetriesPerRequest: null }, prefix: options.prefix, concurrency: 2 },
  );
  worker.on('error', (error) => logger.warn({ err: error }, 'pack worker error'));
  return worker;
}
