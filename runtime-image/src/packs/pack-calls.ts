// One tools/call to a pack tool: the idempotency key is stripped from the arguments and applied
// against the runtime's key table (a write), the call is forwarded under the pack's own name with
// progress, cancellation and the pack's log messages and requests to the client relayed, and every
// failure of the pack becomes a structured tool error.
import { randomUUID } from 'node:crypto';
import { ProtocolError, type CallToolResult, type ProgressNotification } from '@modelcontextprotocol/client';
import type { ServerContext } from '@modelcontextprotocol/server';
import { PackCallClock } from './pack-call-clock.ts';
import {
  CALL_INPUT_WAIT_MS,
  type InputExchange,
  type InputExchanges,
  type PackAnswer,
} from './pack-exchanges.ts';
import { TIMER_MAX_MS } from '../../../kernel/config/timer-bound.ts';
import { argumentsDigest, IDEMPOTENCY_KEY_FIELD } from '../../../kernel/tools/tool-definition.ts';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import type { PackHost, ServedTool } from './pack-host.ts';
import { relayFor } from './pack-relay.ts';
import { replayed, type PackKeys } from './pack-keys.ts';
import { ACTOR_META_KEY } from './reference-meta.ts';
import { isConnectionLoss, isTimeout, type PackRefusal } from './pack-process.ts';
import type { PackCallSpan } from '../tracing/pack-span.ts';

export const UNITS_META_KEY = 'io.bulkhead/units';
export const PACK_KEY_META_KEY = 'io.bulkhead/idempotency_key';

export interface PackCallOptions {
  host: PackHost;
  keys: PackKeys;
  callTimeoutMs: number;
  /** Aborted when the router's connection for this request drops. */
  connection: AbortSignal;
  /** Calls waiting for their client's answer to a pack's question (pack-exchanges.ts). */
  exchanges: InputExchanges;
  /** The call's pack span, when the router traces the call (tracing/pack-span.ts). */
  span?: PackCallSpan;
  /** Who calls (the user, else `agent:<id>`): told to the reference pack alone. */
  actor: string;
}

/** Keeps a pack's reported units only when they are a non-negative number. */
function withUnits(result: CallToolResult): CallToolResult {
  const meta = result._meta;
  if (!meta || !(UNITS_META_KEY in meta)) return result;
  const units = meta[UNITS_META_KEY];
  if (typeof units === 'number' && Number.isFinite(units) && units >= 0) return result;
  const { [UNITS_META_KEY]: _dropped, ...rest } = meta;
  return { ...result, _meta: rest };
}

/** The tool error for a pack that cannot take the call (its circuit is open, it did not start). */
export function refusalResult(refusal: PackRefusal): CallToolResult {
  const extra = refusal.code === 'pack_circuit_open' ? { retry_after_ms: refusal.retryAfterMs } : {};
  return toolError(refusal.code, refusal.message, extra);
}

/** Whether the call reached the pack (its effect may have happened) and what the caller gets. */
interface Dispatched {
  result: CallToolResult;
  reached: boolean;
  answered: boolean;
}

async function dispatch(
  served: ServedTool,
  args: Record<string, unknown>,
  meta: Record<string, unknown>,
  exchange: InputExchange,
  options: PackCallOptions,
): Promise<Dispatched> {
  const { process } = served;
  const { span } = options;
  if (process.pid === undefined) span?.started();
  const client = await process.ready();
  if ('code' in client) return { result: refusalResult(client), reached: false, answered: false };
  const name = served.approved.exposed;
  const { callTimeoutMs } = options;
  // The bound on the whole call: the setting (at most TIMER_MAX_MS, kernel/config/timer-bound.ts)
  // plus the wait for answers would overflow a Node timer, which then fires at once, so it stops
  // at the longest a timer waits.
  const wholeCallMs = Math.min(callTimeoutMs + CALL_INPUT_WAIT_MS, TIMER_MAX_MS);
  // The pack's own time, stopped while its question waits for an answer (pack-call-clock.ts).
  const clock = new PackCallClock(callTimeoutMs);
  // Aborted when the caller of the request in progress goes away, a question goes unanswered, or
  // the pack's time runs out.
  const signal = AbortSignal.any([exchange.abort.signal, clock.signal]);
  const progressToken = exchange.ctx.mcpReq._meta?.progressToken;
  try {
    const relay = relayFor(exchange, clock, options.host.log, span);
    const { host } = options;
    const forward = () =>
      host.relaying(process.name, relay, () =>
        client.callTool(
          {
            name: served.approved.name,
            arguments: args,
            ...(Object.keys(meta).length || progressToken !== undefined
              ? { _meta: { ...meta, ...(progressToken === undefined ? {} : { progressToken: ownToken }) } }
              : {}),
          },
          // The SDK's timeout, which never stops, is only the bound on the whole call. The result is
          // checked against the output schema of the definition judged approved: the client lists
          // no tools itself (pack-process.ts), so it holds no other.
          {
            signal,
            timeout: wholeCallMs,
            ...(served.definition ? { toolDefinition: served.definition } : {}),
          },
        ),
      );
    const ownToken = `bulkhead-${randomUUID()}`;
    const result =
      progressToken === undefined
        ? await forward()
        : await host.withProgress(
            ownToken,
            (progress) =>
              relay.notify({
                method: 'notifications/progress',
                params: { ...progress, progressToken } as ProgressNotification['params'],
              }),
            forward,
          );
    await relay.flushed();
    // The pack's own error result: its codes are its own, never copied into the span.
    if (result.isError === true) span?.fail('tool_error');
    return { result: withUnits(result), reached: true, answered: true };
  } catch (error) {
    // A malformed answer, failed at once by the transport (pack-transport.ts): the call was
    // answered, with the runtime's structured error in the pack's place.
    // (A pack that sends this same error itself gets this same tool error, as it could answer one.)
    if (
      error instanceof ProtocolError &&
      (error.data as { code?: unknown } | undefined)?.code === 'pack_unavailable'
    ) {
      return {
        result: toolError('pack_unavailable', `${name}: ${error.message}`),
        reached: true,
        answered: true,
      };
    }
    if (error instanceof ProtocolError) throw error;
    if (exchange.abort.signal.aborted) {
      span?.fail('cancelled');
      // Unanswered: the wait was the client's, not the pack's; the pack keeps running.
      const why = exchange.unanswered
        ? `its ${exchange.unanswered} got no answer in time; the call was cancelled, the pack not stopped`
        : 'was cancelled';
      const code = exchange.unanswered ? 'pack_timeout' : 'pack_unavailable';
      return { result: toolError(code, `${name}: ${why}`), reached: true, answered: false };
    }
    // The pack's own time ran out with no question of it outstanding: it hangs.
    if (clock.expired) {
      process.kill(`no answer to ${name} within ${callTimeoutMs} ms`);
      return {
        result: toolError(
          'pack_timeout',
          `${name} did not answer within ${callTimeoutMs} ms; the pack was stopped`,
        ),
        reached: true,
        answered: false,
      };
    }
    // The bound on the whole call, reached only by a call whose questions took long: not the pack's
    // hang, so it is cancelled (the pack is told) and not killed.
    if (isTimeout(error)) {
      return {
        result: toolError(
          'pack_timeout',
          `${name} took over ${wholeCallMs} ms in all, waiting for answers included; cancelled`,
        ),
        reached: true,
        answered: false,
      };
    }
    const exited = isConnectionLoss(error);
    if (exited) span?.fail('pack_exited');
    const why = exited ? 'the pack exited during the call' : (error as Error).message;
    return {
      result: toolError(
        'pack_unavailable',
        `${name} failed: ${why}; the pack is restarted on the next call`,
        {
          retry_after_ms: 1000,
        },
      ),
      reached: true,
      answered: false,
    };
  } finally {
    clock.stop();
  }
}

const inFlightKeys = new Set<string>();

/**
 * A pack tool's call, or the next round of one that asked its client a question: the result, or
 * the question as an `input_required` answer whose retry continues the same call.
 */
export async function callPackTool(
  served: ServedTool,
  params: { arguments?: Record<string, unknown> | undefined },
  ctx: ServerContext,
  options: PackCallOptions,
): Promise<PackAnswer> {
  const name = served.approved.exposed;
  const state = ctx.mcpReq.requestState();
  if (typeof state === 'string') return options.exchanges.resume(state, name, ctx, options.connection);
  const exchange = options.exchanges.start(ctx, name);
  exchange.run(() => runPackCall(served, params, exchange, options));
  return exchange.round(ctx, options.connection);
}

async function runPackCall(
  served: ServedTool,
  params: { arguments?: Record<string, unknown> | undefined },
  exchange: InputExchange,
  options: PackCallOptions,
): Promise<CallToolResult> {
  // The reference pack commits a write's key in the write's own transaction, so it is never
  // ambiguous whether a keyed write happened: it gets the key in its arguments and the caller's
  // name, and a retry always reaches it (a concurrent one waits for the first, as before).
  if (served.reference) {
    const meta = { [ACTOR_META_KEY]: options.actor };
    return (await dispatch(served, params.arguments ?? {}, meta, exchange, options)).result;
  }
  const { [IDEMPOTENCY_KEY_FIELD]: key, ...args } = params.arguments ?? {};
  const name = served.approved.exposed;
  if (served.approved.effect === 'read') return (await dispatch(served, args, {}, exchange, options)).result;
  if (typeof key !== 'string' || key.length === 0) {
    return toolError('invalid_arguments', `${name} is a write: ${IDEMPOTENCY_KEY_FIELD} is required`);
  }
  const claim = options.keys.claim(name, key, argumentsDigest(args));
  const slot = `${name}\u0000${key}`;
  switch (claim.kind) {
    case 'conflict':
      return toolError('idempotency_key_reused', 'this idempotency key was used with other arguments');
    case 'replay':
      return replayed(claim.resultJson);
    case 'pending':
      return inFlightKeys.has(slot)
        ? toolError('idempotency_in_progress', 'a call with this idempotency key is still in flight')
        : toolError(
            'pack_outcome_unknown',
            'an earlier call with this idempotency key reached the pack and got no answer; it is not sent again',
          );
    case 'fresh':
      break;
  }
  const honoursKeys = served.pack.idempotency === 'pack';
  inFlightKeys.add(slot);
  try {
    const meta = honoursKeys ? { [PACK_KEY_META_KEY]: key } : {};
    const outcome = await dispatch(served, args, meta, exchange, options).catch((error: unknown) => {
      // A JSON-RPC error answered the call: the pack's own (invalid params, an internal error), or
      // the runtime's client refusing the result the pack answered (one that breaks the tool's
      // output schema: the same -32602 as "invalid params", after the tool ran). Either way the
      // call was answered, and the key keeps that answer: a retry gets the same error and the
      // tool does not run again. A refusal would refuse the retry as well (the key's digest makes
      // its arguments the same), and an error that does not say whether the tool ran must not
      // run it twice; releasing on a refusal's code would do that to a refused result. A pack
      // that honours keys deduplicates a retry itself: released, as after no answer.
      if (error instanceof ProtocolError) {
        if (honoursKeys) options.keys.release(name, key);
        else options.keys.completeWithError(name, key, error);
      }
      throw error;
    });
    if (outcome.answered) options.keys.complete(name, key, outcome.result);
    // A pack that honours keys itself may safely see the key again; otherwise only an undelivered call.
    else if (!outcome.reached || honoursKeys) options.keys.release(name, key);
    return outcome.result;
  } finally {
    inFlightKeys.delete(slot);
  }
}
