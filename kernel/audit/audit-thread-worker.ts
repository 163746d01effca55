// The audit worker thread (audit-thread.ts starts it): appends each event it is sent to the trail,
// in the order sent, and acknowledges each once the trail's append has settled: done only when
// the entry is in Redis. Acknowledgements of one turn go back in one message.
import { parentPort, workerData } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { isBulkheadError } from '../errors/bulkhead-error.ts';
import type { AppendMessage, AuditThreadData, WorkerMessage } from './audit-thread.ts';
import { AuditTrail } from './audit-trail.ts';

if (!parentPort) throw new Error('audit-thread-worker.ts runs as a worker thread (audit-thread.ts)');
const port = parentPort;
const { redis: options, prefix } = workerData as AuditThreadData;
const redis = new Redis({ ...options, lazyConnect: true });
// ioredis reconnects by itself; the router logs what its connection reports.
redis.on('error', (error: Error) => port.postMessage({ redisError: error.message } satisfies WorkerMessage));
const trail = new AuditTrail({ redis, prefix });
// Appends wait for the first connection (without an offline queue a command sent before it would
// fail); a first connection that fails lets them through, to fail and be reported one by one.
const connected = redis.connect().catch(() => undefined);

let acks: Extract<WorkerMessage, { acks: unknown }>['acks'] = [];
function acknowledge(ack: (typeof acks)[number]): void {
  if (acks.push(ack) > 1) return;
  setImmediate(() => {
    const message: WorkerMessage = { acks };
    acks = [];
    port.postMessage(message);
  });
}

port.on('message', (batch: AppendMessage) => void connected.then(() => appendAll(batch)));

function appendAll(batch: AppendMessage): void {
  for (const [id, event] of batch) {
    trail.append(event).then(
      () => acknowledge([id]),
      (error: unknown) =>
        acknowledge([
          id,
          {
            ...(isBulkheadError(error) ? { code: error.code } : {}),
            message: error instanceof Error ? error.message : String(error),
          },
        ]),
    );
  }
}
