// How an ioredis command fails when Redis gives it no answer at all, as against an answer that is an
// error (a ReplyError: a wrong type, a script's own error), which says something about the request.
// A process that meets the first can say "state unavailable, retry" instead of "internal error".
//   - MaxRetriesPerRequestError (an AbortError of redis-errors): the connection was down for the
//     command's retries (maxRetriesPerRequest), the case of a Redis that is stopped or restarting;
//   - AbortError: the command was in flight when the connection closed;
//   - "Connection is closed.": sent after the client was disconnected, or flushed when it gave up;
//   - "Stream isn't writeable ...": the connection is down and the client queues nothing
//     (enableOfflineQueue: false);
//   - "Command timed out": a DeadlineRedis's command unanswered at its deadline (kernel/redis/
//     deadline.ts), the case of a Redis that is frozen with its connection open.
import { COMMAND_TIMED_OUT } from './deadline.ts';

const UNANSWERED_NAMES = new Set(['MaxRetriesPerRequestError', 'AbortError']);
const UNANSWERED_MESSAGES = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  COMMAND_TIMED_OUT,
]);

/** Whether `error` is an ioredis command's failure to get any answer from Redis. */
export function unansweredByRedis(error: unknown): boolean {
  return (
    error instanceof Error && (UNANSWERED_NAMES.has(error.name) || UNANSWERED_MESSAGES.has(error.message))
  );
}
