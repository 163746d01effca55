// What a pack sends during one of its calls (progress and log notifications, its questions to the
// client) relayed to that call's caller, within a budget: every notification relayed is held until
// the caller's stream takes it, so a pack that sends them without end would otherwise fill the
// tenant's container, every other call of the tenant with it.
import type { ServerNotification } from '@modelcontextprotocol/client';
import { MAX_RELAYED_NOTIFICATIONS_PER_CALL } from '../../../kernel/wire/answer-bounds.ts';
import type { PackCallSpan } from '../tracing/pack-span.ts';
import type { PackCallClock } from './pack-call-clock.ts';
import type { InputExchange } from './pack-exchanges.ts';
import type { CallRelay, PackHost } from './pack-host.ts';

/**
 * The most of a pack's progress and log notifications one call relays, in characters of their
 * parameters' JSON (about their bytes): each is under the pack transport's per-message bound, but nothing bounded their sum,
 * and the MCP handler queues every one whatever the pace of its reader (and a traced answer is held
 * whole, runtime-image/src/traced-answer.ts). A pack sending them without end ran the tenant's
 * container out of memory, every other call of the tenant with it. Past the budget they are
 * dropped, and the call goes on.
 */
export const MAX_RELAYED_BYTES_PER_CALL = 1024 * 1024;

/**
 * About the length of `value`'s JSON, without building it: a notification past the budget is
 * dropped, and a copy of each only to measure it was garbage enough, in a burst, to run a small
 * container out of memory before the collector caught up (an estimate, not an exact measure: a
 * bound on memory, not a quota). Strings count their characters, other leaves a few; nesting past a depth counts as much as the budget (such a message is not relayed).
 */
export function approxJsonLength(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return 8;
  if (depth > 16) return MAX_RELAYED_BYTES_PER_CALL + 1;
  let length = 2;
  if (Array.isArray(value)) for (const item of value) length += 1 + approxJsonLength(item, depth + 1);
  else
    for (const [key, item] of Object.entries(value))
      length += key.length + 4 + approxJsonLength(item, depth + 1);
  return length;
}

/**
 * What a pack sends during one call, relayed in order; `flushed()` settles once all of it has been
 * handed to the caller's stream, so the result never overtakes a notification sent before it, and
 * logs how many were dropped when any were.
 */
export function relayFor(
  exchange: Pick<InputExchange, 'ctx' | 'ask'>,
  clock: Pick<PackCallClock, 'whileWaiting'>,
  log: PackHost['log'],
  span: PackCallSpan | undefined,
): CallRelay & { flushed(): Promise<void> } {
  let chain = Promise.resolve();
  let bytes = 0;
  let relayed = 0;
  let dropped = 0;
  const notify = (notification: ServerNotification): void => {
    // Once past, every later one is dropped unmeasured: a flood costs its parse, no more.
    if (dropped === 0) bytes += approxJsonLength(notification.params);
    if (dropped > 0 || bytes > MAX_RELAYED_BYTES_PER_CALL || relayed >= MAX_RELAYED_NOTIFICATIONS_PER_CALL) {
      if (dropped++ === 0)
        log.warn(
          {
            method: notification.method,
            budget: MAX_RELAYED_BYTES_PER_CALL,
            notifications: MAX_RELAYED_NOTIFICATIONS_PER_CALL,
          },
          "a pack's notifications passed the call's budget: the rest of them are dropped",
        );
      return;
    }
    relayed += 1;
    chain = chain
      .then(() => exchange.ctx.mcpReq.notify(notification))
      .catch((error: unknown) =>
        log.warn(
          { method: notification.method, err: (error as Error).message },
          'relaying a notification failed',
        ),
      );
  };
  return {
    traceparent: span?.traceparent,
    notify,
    flushed: () => {
      if (dropped > 0)
        log.warn({ relayed, dropped }, "a pack's notifications dropped past the call's budget");
      return chain;
    },
    // The question goes to the client with this request's answer; its answer comes with the next.
    // The call timeout stops meanwhile: the wait is the client's, bounded by the exchange.
    request: (method, params) => {
      span?.asked(method);
      return clock.whileWaiting(() => exchange.ask(method, params));
    },
  };
}
