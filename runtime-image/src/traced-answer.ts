// A traced call's answer is sent whole, once it is complete: the call's spans travel in a header
// (RUNTIME_SPANS_HEADER) and are finished only once the answer is (its progress and log
// notifications arrive together with its result). Held whole, it is bounded: a pack that sends
// notification after notification during a call (each under the pack transport's per-message
// bound, and the MCP handler queues every one whatever the pace of its reader) would have the
// runtime hold all of them until the call ends, run the tenant's container out of memory and take
// every other call of the tenant down with it. Past MAX_RUNTIME_ANSWER_BYTES, the router's own
// ceiling for an answer (which it would refuse anyway), the call is cancelled, down to its pack,
// and answered with a JSON-RPC error whose data is the structured `read_bound_exceeded`.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { MAX_RUNTIME_ANSWER_BYTES } from '../../kernel/wire/answer-bounds.ts';
import { RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import type { CallTrace } from './tracing/call-tracer.ts';

/** JSON-RPC's "internal error": the runtime, not the request, is why there is no answer. */
const INTERNAL_ERROR = -32603;

export interface TracedAnswer {
  res: ServerResponse;
  response: Response;
  callTrace: CallTrace;
  /** The request's JSON-RPC id, for the error that stands in for an answer past the bound. */
  requestId: unknown;
  /** Cancels the call (its pack call with it). */
  cancel: () => void;
  log: Logger;
  /** The most the answer may hold (tests). */
  maxBytes?: number;
}

/** The answer's bytes, or undefined once they pass `maxBytes` (the rest is not read). */
async function collect(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Buffer | undefined> {
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
}

export async function sendTraced(answer: TracedAnswer): Promise<void> {
  const { res, response, callTrace } = answer;
  const maxBytes = answer.maxBytes ?? MAX_RUNTIME_ANSWER_BYTES;
  const whole = await collect(response.body, maxBytes);
  if (!whole) answer.cancel();
  const spans = callTrace.finish();
  const traced = spans ? { [RUNTIME_SPANS_HEADER]: spans } : {};
  if (whole) {
    res.writeHead(response.status, { ...Object.fromEntries(response.headers), ...traced });
    return void res.end(whole);
  }
  const message = `the answer passed ${maxBytes} bytes before it was complete: the call was cancelled`;
  answer.log.warn({ maxBytes }, 'a traced answer passed its bound: call cancelled');
  const error = toolError('read_bound_exceeded', message).structuredContent.error;
  const body = {
    jsonrpc: '2.0',
    id: answer.requestId ?? null,
    error: { code: INTERNAL_ERROR, message, data: error },
  };
  res.writeHead(200, { 'content-type': 'application/json', ...traced }).end(JSON.stringify(body));
}
