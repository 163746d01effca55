// One call's exchange with a tenant runtime: every request it sends is signed with the call's own
// context over the exact body sent (`post` and signingFetch), every read is bounded
// (bounded-fetch.ts) and the call has its deadline. The forwarded request itself is one JSON-RPC POST on the route's agent
// (runtime-request.ts). An SDK client is built only for what a new route needs first (its
// server/discover answer, kept on the route, and the check of its tool definitions) and for the
// periodic definition check; a warm call builds none.
import {
  Client,
  StreamableHTTPClientTransport,
  type FetchLike,
  type Result,
  type Tool,
} from '@modelcontextprotocol/client';
import { fetch as undiciFetch, request, type RequestInit as UndiciRequestInit } from 'undici';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import type { ToolGuard } from '../tools/drift-guard.ts';
import { paramsWithInput, type CallRelay, type ForwardedMethod } from './call-relay.ts';
import { BoundedReads, type RuntimeReadBounds } from './bounded-fetch.ts';
import type { CallSigner } from './call-signer.ts';
import { RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import type { RuntimeSpanSink } from './runtime-spans.ts';
import type { TenantRoute, TenantRoutes } from './tenant-routes.ts';
import {
  ROUTER_CAPABILITIES,
  ROUTER_CLIENT_INFO,
  RUNTIME_PROTOCOL,
  sendRuntimeRequest,
  type RuntimePost,
} from './runtime-request.ts';

export interface SessionOptions {
  sign: CallSigner;
  bounds: RuntimeReadBounds;
  timeoutMs: number;
  /** Takes the runtime's spans of a traced call (runtime-spans.ts). */
  onSpans?: RuntimeSpanSink | undefined;
}

export class RuntimeSession {
  readonly reads: BoundedReads;
  private readonly fetch: FetchLike;
  private readonly post: RuntimePost;
  private readonly route: TenantRoute;
  private readonly timeout: number;
  private client: Client | undefined;
  /** The forwarded request's exchange while it is open: closing the session ends it. */
  private open: AbortController | undefined;

  constructor(route: TenantRoute, context: CallContext, options: SessionOptions) {
    this.route = route;
    this.timeout = options.timeoutMs;
    this.reads = new BoundedReads(options.bounds, options.timeoutMs);
    this.fetch = this.reads.fetch(signingFetch(route, context, options));
    this.post = (body, headers, signal) =>
      this.reads.request(async () => {
        const response = await request(route.url, {
          method: 'POST',
          headers: { ...headers, [CALL_ASSERTION_HEADER]: await options.sign(context, body) },
          body,
          signal,
          dispatcher: route.agent,
        });
        noteSpans(context, options, response.headers[RUNTIME_SPANS_HEADER]);
        return response;
      });
  }

  /** An SDK client on the route, connected; server/discover is skipped when its answer is known. */
  private async connected(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client(ROUTER_CLIENT_INFO, {
      // Manual multi-round-trip mode: an `input_required` answer of the runtime goes back to the
      // client that must answer it, never to handlers of the router's own.
      capabilities: ROUTER_CAPABILITIES,
      versionNegotiation: { mode: { pin: RUNTIME_PROTOCOL } },
      inputRequired: { autoFulfill: false },
    });
    client.onerror = (error) => this.reads.noteError(error);
    this.client = client;
    const { discover } = this.route;
    const timeout = this.timeout;
    await client.connect(
      new StreamableHTTPClientTransport(this.route.url, { fetch: this.fetch }),
      discover ? { prior: { kind: 'modern', discover }, timeout } : { timeout },
    );
    return client;
  }

  async listTools(): Promise<Tool[]> {
    return (await (await this.connected()).listTools(undefined, { timeout: this.timeout })).tools;
  }

  /**
   * One request forwarded as it is: on a new route, after server/discover and (for a tools/call)
   * the tool definition check. The runtime's notifications about it (progress, log messages) go
   * to the relay; an `input_required` answer is returned.
   */
  async forward(
    request: { tenant: string; method: ForwardedMethod; params: Record<string, unknown> },
    routes: TenantRoutes,
    guard: ToolGuard | undefined,
    relay: CallRelay = {},
  ): Promise<Result> {
    const { route } = this;
    if (!route.discover) {
      const client = await this.connected();
      routes.noteDiscover(request.tenant, route, client.getDiscoverResult());
    }
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
    const params = paramsWithInput(request.params, relay);
    const exchange = new AbortController();
    this.open = exchange;
    try {
      return await sendRuntimeRequest(this.post, { method: request.method, params }, relay, exchange);
    } finally {
      this.open = undefined;
    }
  }

  /** Ends what is still open: a request past its deadline or cut off at a broken bound. */
  async close(): Promise<void> {
    this.open?.abort();
    await this.client?.close().catch(() => undefined);
  }
}

function signingFetch(route: TenantRoute, context: CallContext, options: SessionOptions): FetchLike {
  const { sign } = options;
  return async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const headers = new Headers(init?.headers);
    headers.set(CALL_ASSERTION_HEADER, await sign(context, body));
    const response = await undiciFetch(url, {
      ...(init as UndiciRequestInit),
      headers: Object.fromEntries(headers),
      dispatcher: route.agent,
    });
    noteSpans(context, options, response.headers.get(RUNTIME_SPANS_HEADER) ?? undefined);
    return response;
  };
}

/** Hands the spans a runtime returned with a traced call to the sink. */
function noteSpans(
  context: CallContext,
  options: SessionOptions,
  header: string | string[] | undefined,
): void {
  if (context.trace === undefined || typeof header !== 'string') return;
  options.onSpans?.(context, header);
}
