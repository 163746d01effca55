// Closing a job queue's producer side (a BullMQ Queue and its QueueEvents) whatever Redis is doing.
// BullMQ's own close waits on Redis: Queue.close sends QUIT (which waits for the connection to come
// back when commands are queued), and QueueEvents.close disconnects and waits for the connection's
// `end` event. ioredis never emits `end` for a client that is between reconnection attempts: its
// disconnect clears the retry timer and has no socket to close
// (test/integration/runtime-client-close.test.ts shows it). So a console, router or CLI closed
// while Redis was restarting, or in the back-off after a restart, never finished closing. Here
// every connection is closed at once, after at most a short wait for the answers to what it sent
// (below): a producer that closes has nothing left to send, and a job it was waiting for is the
// supervisor's either way.
import type { Queue, QueueEvents } from 'bullmq';
import { settleWithin } from '../../kernel/redis/deadline.ts';

type Connection = ReturnType<Queue['getBackend']>['connection'];

/** What ioredis keeps of a client's commands in flight (private there: see `rejectStranded`). */
interface CommandQueues {
  status: string;
  flushQueue(error: Error): void;
  ping(): Promise<unknown>;
}

/**
 * How long a close waits for Redis to answer what the queue's connection sent before it: a command
 * the forced close rejects is a failure for whatever still awaits it (a wait's check whether its job
 * finished already, job-request.ts `outcomeOf`, may be in flight after the job's completion event
 * answered its caller). Redis answers a connection's commands in order, so its answer to one PING
 * sent last means every command before it was answered.
 */
export const ANSWERS_WAIT_MS = 500;

/**
 * Waits, at most ANSWERS_WAIT_MS, for the answers to what `connection` sent; never rejects. Only on
 * a connected client: one between reconnection attempts has nothing Redis could answer, and a wait
 * there let its back-off timer open a new socket before the forced close (whose connect timer then
 * kept the process alive for seconds).
 */
async function answered(connection: Connection): Promise<void> {
  const client = (await connection.client) as unknown as CommandQueues;
  if (client.status !== 'ready') return;
  await settleWithin(client.ping(), ANSWERS_WAIT_MS, () => new Error('no answer')).catch(() => undefined);
}

/**
 * Rejects the commands a disconnected client still holds for a resend after a reconnection that
 * will not come: an event stream's blocking XREAD caught by the restart stays pending otherwise,
 * and BullMQ's read watchdog (a timer of the block time plus a second) keeps the process alive
 * until it fires. ioredis does this itself when a connection ends (its `close` handler).
 */
async function rejectStranded(connection: Connection): Promise<void> {
  const client = (await connection.client) as unknown as CommandQueues;
  client.flushQueue(new Error('Connection is closed.'));
}

/** Closes `queue` and `events` now, their sockets and reconnection timers with them. */
export async function closeJobQueue(queue: Queue, events: QueueEvents): Promise<void> {
  const backends = [queue.getBackend(), events.getBackend()];
  // A connection that never became ready has no client to flush; its events' close would wait
  // for that readiness (QueueEvents.close awaits the client), which the forced close has ended.
  const ready = backends.every((backend) => backend.connection.status === 'ready');
  // The queue's connection only: the events' holds a blocking read, which BullMQ handles itself.
  if (ready) await answered(queue.getBackend().connection);
  // Forced: the socket is destroyed and the retry timer cleared, no QUIT is sent.
  await Promise.all(backends.map((backend) => backend.close(true)));
  if (!ready) {
    void Promise.all([queue.close(), events.close()]).catch(() => undefined);
    return;
  }
  await Promise.all(backends.map((backend) => rejectStranded(backend.connection)));
  // The classes' own close, with their connections closed already: it ends the event stream's
  // read loop and marks both closed.
  await Promise.all([queue.close(), events.close()]);
}
