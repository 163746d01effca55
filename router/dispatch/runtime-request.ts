// One forwarded request to a tenant runtime, sent as one JSON-RPC POST over the route's undici
// agent without an SDK client: a client per call cost more than the request itself (connect, the
// known server/discover answer replayed, close), and one client shared by a route's calls would mix
// their notifications. Here everything belongs to the one exchange: the body is signed with the
// call's own context (runtime-session.ts), every read is bounded (bounded-fetch.ts), the answer is
// the response with this request's id on this request's own stream, and only that stream's
// notifications reach the call's relay (progress only under the token this request sent). The
// answer is decoded as the SDK client decodes a 2026-07-28 result (resultType, the method's result
// schema, a JSON-RPC error as ProtocolError), so callers see what they saw through the client.
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCResultResponse,
  isSpecType,
  parseJSONRPCMessage,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  specTypeSchemas,
  type JSONRPCMessage,
  type Result,
} from '@modelcontextprotocol/client';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../kernel/wire/json-depth.ts';
import { jsonOrUndefined } from '../../kernel/wire/json-text.ts';
import { ReadBoundError, type BoundedAnswer } from './bounded-fetch.ts';
import { checkedProgress, progressNotification, type CallRelay, type ForwardedMethod } from './call-relay.ts';
import { parseEventStream } from './event-stream.ts';

/** The protocol revision the router speaks to its runtimes. */
const RUNTIME_PROTOCOL = '2026-07-28';
const ROUTER_CLIENT_INFO = { name: 'bulkhead-router', version: '0.1.0' } as const;
/**
 * The router declares elicitation and sampling because it carries those questions to the caller
 * (sealed for a 2026-07-28 client, asked on the call's stream of a 2025 session:
 * router/mcp/input-rounds.ts); without them the runtime refuses to ask (-32021) and a pack's
 * question fails the call.
 */
const ROUTER_CAPABILITIES = { elicitation: {}, sampling: {} } as const;

/** The `_meta` envelope every 2026-07-28 request carries (what the SDK client attaches). */
export const RUNTIME_ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': RUNTIME_PROTOCOL,
  'io.modelcontextprotocol/clientInfo': ROUTER_CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': ROUTER_CAPABILITIES,
};

/**
 * The `_meta` a request to a runtime carries: the client's, under the router's envelope and progress
 * token. The router is the runtime's client: the protocol revision, the client's identity and the
 * capabilities the runtime may use (what the router carries to the caller) are the router's, so a
 * client's own envelope keys never reach the runtime in their place (a client declaring sampling the
 * router would never serve, or another revision). The client's `progressToken` is not the runtime's
 * either: the router asks under its own (the request's id) and re-keys what comes back. What else a
 * client puts there (its log level, a `traceparent`, its own keys) goes on as sent; the runtime's
 * trace is the router's, carried in the call assertion (call-signer.ts), never read from `_meta`.
 */
export function runtimeMeta(clientMeta: unknown, progressToken: number | undefined): Record<string, unknown> {
  const { progressToken: _theirs, ...kept } = isPlainObject(clientMeta) ? clientMeta : {};
  return { ...kept, ...RUNTIME_ENVELOPE, ...(progressToken === undefined ? {} : { progressToken }) };
}

/** The body field the `mcp-name` header mirrors, per method (the runtime checks they agree). */
const NAME_FIELDS: Partial<Record<RuntimeMethod, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/**
 * What the router sends a runtime: the requests it forwards, and its own `tools/list` (the check of a
 * route's tool definitions, tenant-dispatcher.ts).
 */
export type RuntimeMethod = ForwardedMethod | 'tools/list';

/** The headers of a request to a runtime, but its call assertion (the benchmarks send them raw too). */
export function mcpHeaders(method: RuntimeMethod, params: Record<string, unknown>): Record<string, string> {
  const field = NAME_FIELDS[method];
  const name = field === undefined ? undefined : params[field];
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': RUNTIME_PROTOCOL,
    'mcp-method': method,
    ...(typeof name === 'string' ? { 'mcp-name': headerValue(name) } : {}),
  };
}

/** A header value as the SDK encodes it: plain printable ASCII as is, anything else as base64. */
function headerValue(value: string): string {
  const plain =
    value.length > 0 &&
    value === value.trim() &&
    !(value.startsWith('=?base64?') && value.endsWith('?=')) &&
    /^[\t\x20-\x7e]*$/.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The spec result schema each forwarded method's answer must match (the SDK client's check). */
const RESULT_SCHEMAS: Record<RuntimeMethod, keyof typeof specTypeSchemas> = {
  'tools/call': 'CallToolResult',
  'tools/list': 'ListToolsResult',
  'resources/list': 'ListResourcesResult',
  'resources/templates/list': 'ListResourceTemplatesResult',
  'resources/read': 'ReadResourceResult',
  'prompts/list': 'ListPromptsResult',
  'prompts/get': 'GetPromptResult',
  'completion/complete': 'CompleteResult',
};

let lastId = 0;

export interface RuntimeRequest {
  method: RuntimeMethod;
  params: Record<string, unknown>;
}

/** Posts a body with these headers on the call's route: signed, its answer bounded. */
export type RuntimePost = (
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
) => Promise<BoundedAnswer>;

/**
 * Sends the request with `post` and resolves to the runtime's result; rejects as the SDK client
 * would: ProtocolError for a JSON-RPC error, SdkError for a cancelled call or an invalid result,
 * the connection's own error for a failed connection.
 */
export async function sendRuntimeRequest(
  post: RuntimePost,
  request: RuntimeRequest,
  relay: CallRelay,
  exchange: AbortController,
): Promise<Result> {
  const { signal, notify, progressToken } = relay;
  const cancelled = (): SdkError =>
    signal?.reason instanceof SdkError
      ? signal.reason
      : new SdkError(SdkErrorCode.RequestTimeout, String(signal?.reason));
  if (signal?.aborted) throw cancelled();
  const id = ++lastId;
  const relayProgress = notify !== undefined && progressToken !== undefined;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: request.method,
    params: { ...request.params, _meta: runtimeMeta(request.params._meta, relayProgress ? id : undefined) },
  });
  // `exchange` is aborted when the caller cancels (the runtime sees its request's stream close)
  // and when the exchange fails or its session ends, so that nothing is read on after the call.
  let onCancel: (() => void) | undefined;
  const cancellation = new Promise<never>((_resolve, reject) => {
    onCancel = () => {
      exchange.abort();
      reject(cancelled());
    };
    signal?.addEventListener('abort', onCancel, { once: true });
  });
  cancellation.catch(() => undefined);
  const deliver = (message: JSONRPCMessage): Result | undefined => {
    // Each guard is a schema check, and a failed one builds its issues: a result is checked once.
    const result = isJSONRPCResultResponse(message);
    if (result || isJSONRPCErrorResponse(message)) {
      if (message.id !== id) throw malformed(`an answer to request ${String(message.id)}, not to ${id}`);
      if (!result)
        throw ProtocolError.fromError(message.error.code, message.error.message, message.error.data);
      return decodeResult(request.method, message.result);
    }
    if (!notify || !isJSONRPCNotification(message)) return undefined;
    const params = message.params;
    if (message.method === 'notifications/message') {
      if (isSpecType.LoggingMessageNotification(message))
        void notify({ method: message.method, ...(params ? { params } : {}) }).catch(() => undefined);
    } else if (message.method === 'notifications/progress' && relayProgress && params?.progressToken === id) {
      // The spec's shape, checked as the log message is: one that fails it is dropped.
      const progress = isSpecType.ProgressNotification(message) ? checkedProgress(message.params) : undefined;
      if (progress) void notify(progressNotification(progressToken, progress)).catch(() => undefined);
    }
    return undefined;
  };
  let answered = false;
  try {
    const answer = await Promise.race([
      (async () => {
        const answer = await post(body, mcpHeaders(request.method, request.params), exchange.signal);
        return await readAnswer(answer, id, deliver);
      })(),
      cancellation,
    ]);
    answered = true;
    return answer;
  } finally {
    if (onCancel) signal?.removeEventListener('abort', onCancel);
    // An answered exchange was read to its end (or its stream cancelled); aborting costs an error.
    if (!answered) exchange.abort();
  }
}

/** The answer on the response: a JSON body, or an event stream whose messages go to `deliver`. */
async function readAnswer(
  response: BoundedAnswer,
  id: number,
  deliver: (message: JSONRPCMessage) => Result | undefined,
): Promise<Result> {
  const { status, body } = response;
  const type = response.contentType.split(';')[0]?.trim().toLowerCase();
  if (status < 200 || status > 299) {
    const text = body ? await textOf(body).catch(() => null) : null;
    // A 2026-07-28 runtime refuses a request with its JSON-RPC error as the body of a 400, or of a
    // 404 for a method it has no handler for (a resources/list where no pack serves resources):
    // passed on as that error, which the router answers for (router/mcp/relay-handlers.ts, `absent`).
    if ((status === 400 || status === 404) && text !== null) {
      const answer = jsonOrUndefined(shallow(text));
      if (isJSONRPCErrorResponse(answer) && answer.id === id) deliver(answer);
    }
    throw new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
      status,
      statusText: '',
      text,
    });
  }
  if (body && type === 'application/json') {
    const answer = deliver(parseJSONRPCMessage(JSON.parse(shallow(await textOf(body)))));
    if (answer === undefined) throw malformed('a JSON body that is not an answer');
    return answer;
  }
  if (!body || type !== 'text/event-stream') {
    await body?.cancel().catch(() => undefined);
    throw new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${type}`);
  }
  for await (const data of parseEventStream(body)) {
    if (data === '') continue; // an event without data, as the SDK client skips it
    const answer = deliver(parseJSONRPCMessage(JSON.parse(shallow(data))));
    if (answer !== undefined) return answer;
  }
  // The stream ended without an answer: the runtime may have started the work (never retried).
  throw new SdkError(SdkErrorCode.ConnectionClosed, 'the runtime closed its answer stream without an answer');
}

async function textOf(body: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The text of one message from the runtime, refused when it nests deeper than a request may
 * (kernel/wire/json-depth.ts): it parses, but the router could not send it on (JSON.stringify
 * exhausts its stack a few thousand levels down), and the call would go unanswered.
 */
function shallow(text: string): string {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw malformed(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  return text;
}

function malformed(what: string): ReadBoundError {
  return new ReadBoundError('malformed_response', `the runtime answered with a malformed message: ${what}`);
}

/** A 2026-07-28 result as the SDK client decodes it with `allowInputRequired`. */
function decodeResult(method: RuntimeMethod, raw: unknown): Result {
  const invalid = (why: string): SdkError =>
    new SdkError(SdkErrorCode.InvalidResult, `Invalid result for ${method}: ${why}`, { method });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('not an object');
  const { resultType, ...result } = raw as Record<string, unknown>;
  if (typeof resultType !== 'string') throw invalid('missing or non-string resultType');
  if (resultType === 'input_required') {
    const { inputRequests, requestState, _meta } = result;
    const requests = isPlainObject(inputRequests) ? inputRequests : {};
    if (Object.keys(requests).length === 0 && typeof requestState !== 'string')
      throw invalid('input_required carries neither inputRequests nor requestState');
    return {
      resultType,
      inputRequests: requests,
      ...(typeof requestState === 'string' ? { requestState } : {}),
      ...(isPlainObject(_meta) ? { _meta } : {}),
    };
  }
  if (resultType !== 'complete')
    throw new SdkError(
      SdkErrorCode.UnsupportedResultType,
      `Unsupported result type '${resultType}' for ${method}`,
    );
  const outcome = specTypeSchemas[RESULT_SCHEMAS[method]]['~standard'].validate(result);
  if (outcome.issues) throw invalid(outcome.issues.map((issue) => issue.message).join('; '));
  return outcome.value as Result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
