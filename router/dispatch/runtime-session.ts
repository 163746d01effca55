// One exchange with a tenant runtime: a fresh SDK client on the tenant's route whose fetch signs the
// router's assertion over the exact body it sends, with every read bounded (bounded-fetch.ts) and
// the call's deadline. The runtime's server/discover answer is kept on the route, so a warm call is
// one request on the socket; a new route's tool definitions are checked before its first call.
import {
  Client,
  StreamableHTTPClientTransport,
  type FetchLike,
  type Result,
  type Tool,
} from '@modelcontextprotocol/client';
import { fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import type { ToolGuard } from '../tools/drift-guard.ts';
import { paramsWithInput, progressNotification, type CallRelay, type ForwardedMethod } from './call-relay.ts';
import { BoundedReads, type RuntimeReadBounds } from './bounded-fetch.ts';
import type { CallSigner } from './call-signer.ts';
import { RUNTIME_SPANS_HEADER } from '../../kernel/telemetry/runtime-spans.ts';
import type { RuntimeSpanSink } from './runtime-spans.ts';
import type { TenantRoute, TenantRoutes } from './tenant-routes.ts';

const MODERN = '2026-07-28';

export interface SessionOptions {
  sign: CallSigner;
  bounds: RuntimeReadBounds;
  timeoutMs: number;
  /** Takes the runtime's spans of a traced call (runtime-spans.ts). */
  onSpans?: RuntimeSpanSink | undefined;
}

export class RuntimeSession {
  readonly reads: BoundedReads;
  private readonly client: Client;
  private readonly transport: StreamableHTTPClientTransport;
  private readonly route: TenantRoute;
  private readonly timeout: number;

  constructor(route: TenantRoute, context: CallContext, options: SessionOptions) {
    this.route = route;
    this.timeout = options.timeoutMs;
    this.client = new Client(
      { name: 'bulkhead-router', version: '0.1.0' },
      // Manual multi-round-trip mode: an `input_required` answer of the runtime goes back to the
      // client that must answer it, never to handlers of the router's own. The router declares
      // elicitation and sampling because it carries those questions to the caller (sealed for a
      // 2026-07-28 client, asked on the call's stream of a 2025 session: router/mcp/input-rounds.ts);
      // without them the runtime refuses to ask (-32021) and a pack's question fails the call.
      {
        capabilities: { elicitation: {}, sampling: {} },
        versionNegotiation: { mode: { pin: MODERN } },
        inputRequired: { autoFulfill: false },
      },
    );
    this.reads = new BoundedReads(options.bounds, options.timeoutMs);
    this.transport = new StreamableHTTPClientTransport(route.url, {
      fetch: this.reads.fetch(signingFetch(route, context, options)),
    });
    this.client.onerror = (error) => this.reads.noteError(error);
  }

  /** Connects, skipping server/discover when the runtime's answer is known. */
  async connect(): Promise<void> {
    const { discover } = this.route;
    const timeout = this.timeout;
    await this.client.connect(
      this.transport,
      discover ? { prior: { kind: 'modern', discover }, timeout } : { timeout },
    );
  }

  async listTools(): Promise<Tool[]> {
    return (await this.client.listTools(undefined, { timeout: this.timeout })).tools;
  }

  /**
   * One request forwarded as it is: a tools/call after server/discover and (on a new route) the
   * tool definition check; every other method after server/discover. The runtime's notifications
   * about it (progress, log messages) go to the relay; an `input_required` answer is returned.
   */
  async forward(
    request: { tenant: string; method: ForwardedMethod; params: Record<string, unknown> },
    routes: TenantRoutes,
    guard: ToolGuard | undefined,
    relay: CallRelay = {},
  ): Promise<Result> {
    const { route } = this;
    await this.connect();
    if (!route.discover) routes.noteDiscover(request.tenant, route, this.client.getDiscoverResult());
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
    const { notify, progressToken } = relay;
    if (notify) {
      this.client.setNotificationHandler('notifications/message', (n) => notify(n));
    }
    return await this.client.request(
      { method: request.method, params: paramsWithInput(request.params, relay) } as never,
      {
        timeout: this.timeout,
        allowInputRequired: true,
        ...(relay.signal ? { signal: relay.signal } : {}),
        ...(notify && progressToken !== undefined
          ? {
              onprogress: (progress) => void notify(progressNotification(progressToken, progress)),
              resetTimeoutOnProgress: false,
            }
          : {}),
      },
    );
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}

function signingFetch(route: TenantRoute, context: CallContext, options: SessionOptions): FetchLike {
  const { sign, onSpans } = options;
  return async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const headers = new Headers(init?.headers);
    headers.set(CALL_ASSERTION_HEADER, await sign(context, body));
    const response = await undiciFetch(url, {
      ...(init as UndiciRequestInit),
      headers: Object.fromEntries(headers),
      dispatcher: route.agent,
    });
    const spans = context.trace === undefined ? null : response.headers.get(RUNTIME_SPANS_HEADER);
    if (spans !== null) onSpans?.(context, spans);
    return response;
  };
}
