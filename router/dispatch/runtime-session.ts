// One call's exchange with a tenant runtime: every request it sends is signed with the call's own
// context over the exact body sent (`post`), every read is bounded (bounded-fetch.ts) and the call
// has its deadline. Each request is one JSON-RPC POST on the route's agent (runtime-request.ts),
// the check of a new route's tool definitions (`tools/list`) as much as the forwarded request: no
// SDK client, and no server/discover first (every request names the protocol revision it speaks,
// in its headers and its `_meta`), so a new route costs one request before its first call, not two.
import {
  SdkError,
  SdkErrorCode,
  type ListToolsResult,
  type Result,
  type Tool,
} from '@modelcontextprotocol/client';
import { request, type Dispatcher } from 'undici';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import type { ToolGuard } from '../tools/drift-guard.ts';
import { paramsWithInput, type CallRelay, type ForwardedMethod } from './call-relay.ts';
import { BoundedReads, type RuntimeReadBounds } from './bounded-fetch.ts';
import { writeRefused } from './call-failure.ts';
import type { CallSigner } from './call-signer.ts';
import { RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import type { RuntimeSpanSink } from './runtime-spans.ts';
import type { TenantRoute, TenantRoutes } from './tenant-routes.ts';
import { sendRuntimeRequest, type RuntimePost, type RuntimeRequest } from './runtime-request.ts';

export interface SessionOptions {
  sign: CallSigner;
  bounds: RuntimeReadBounds;
  timeoutMs: number;
  /** Takes the runtime's spans of a traced call (runtime-spans.ts). */
  onSpans?: RuntimeSpanSink | undefined;
}

export class RuntimeSession {
  readonly reads: BoundedReads;
  private readonly post: RuntimePost;
  private readonly route: TenantRoute;
  /** The forwarded request's exchange while it is open: closing the session ends it. */
  private open: AbortController | undefined;

  constructor(route: TenantRoute, context: CallContext, options: SessionOptions) {
    this.route = route;
    this.reads = new BoundedReads(options.bounds, options.timeoutMs);
    this.post = signedPost(route, context, options, this.reads);
  }

  /** The tools the runtime presents (one page, as the SDK client's `listTools()` asks for). */
  async listTools(): Promise<Tool[]> {
    const listed = await this.send({ method: 'tools/list', params: {} }, {});
    // Its schema was checked when it is complete; an `input_required` answer is not a tool list.
    if (!Array.isArray((listed as Partial<ListToolsResult>).tools))
      throw new SdkError(SdkErrorCode.InvalidResult, 'Invalid result for tools/list: no tools', {
        method: 'tools/list',
      });
    return (listed as ListToolsResult).tools;
  }

  /**
   * One request forwarded as it is: on a new route, a tools/call after the tool definition check.
   * The runtime's notifications about it (progress, log messages) go to the relay; an
   * `input_required` answer is returned.
   */
  async forward(
    request: { tenant: string; method: ForwardedMethod; params: Record<string, unknown> },
    routes: TenantRoutes,
    guard: ToolGuard | undefined,
    relay: CallRelay = {},
  ): Promise<Result> {
    const { route } = this;
    if (request.method === 'tools/call') {
      const name = String(request.params.name);
      if (guard && !route.toolsChecked) {
        guard.check(request.tenant, await this.listTools());
        routes.noteChecked(request.tenant, route);
      }
      if (guard?.isWithheld(request.tenant, name)) {
        return toolError(
          'tool_withheld',
          `${name} is withheld: its definition in the tenant runtime is not the approved one`,
        );
      }
    }
    return this.send({ method: request.method, params: paramsWithInput(request.params, relay) }, relay);
  }

  private async send(runtimeRequest: RuntimeRequest, relay: CallRelay): Promise<Result> {
    const exchange = new AbortController();
    this.open = exchange;
    try {
      return await sendRuntimeRequest(this.post, runtimeRequest, relay, exchange);
    } finally {
      this.open = undefined;
    }
  }

  /** Ends what is still open: a request past its deadline or cut off at a broken bound. */
  close(): void {
    this.open?.abort();
  }
}

/**
 * The session's POST: the call assertion signed over the exact body sent. Made here and returned,
 * not written as a function literal assigned to a property, which V8 allocates in its old generation,
 * keeping the session and its call's objects alive until a full collection (docs/performance-router.md,
 * "Per-call objects kept until a full collection"): a session lives for one call.
 */
function signedPost(
  route: TenantRoute,
  context: CallContext,
  options: SessionOptions,
  reads: BoundedReads,
): RuntimePost {
  return (body, headers, signal) =>
    reads.request(async () => {
      const signed = { ...headers, [CALL_ASSERTION_HEADER]: await options.sign(context, body) };
      const sentAt = Date.now();
      const response = await postOnRoute(route, body, signed, signal);
      noteSpans(context, options, response.headers[RUNTIME_SPANS_HEADER], sentAt);
      return response;
    });
}

/**
 * Posts on the route's agent. A kept-alive connection the runtime ended (its idle timeout, a
 * restart) just before this request was written on it refuses the write (call-failure.ts,
 * `writeRefused`): none of it reached the runtime, so it goes once more, the same bytes on a new
 * connection of the same route. Any other failure may come after the runtime read the request, and
 * is left to the caller (at most once).
 */
async function postOnRoute(
  route: TenantRoute,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  const options = { method: 'POST', headers, body, signal, dispatcher: route.agent } as const;
  try {
    return await request(route.url, options);
  } catch (error) {
    if (signal.aborted || !writeRefused(error)) throw error;
    return request(route.url, options);
  }
}

/** Hands the spans a runtime returned with a traced call to the sink, with the exchange's times. */
function noteSpans(
  context: CallContext,
  options: SessionOptions,
  header: string | string[] | undefined,
  sentAt: number,
): void {
  if (context.trace === undefined || typeof header !== 'string') return;
  options.onSpans?.(context, header, { sentAt, answeredAt: Date.now() });
}
