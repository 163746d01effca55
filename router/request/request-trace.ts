// The span of one /mcp request and its steps (docs/observability.md, "Traces"), with the MCP
// semantic conventions: `mcp.method.name`, `mcp.protocol.version`, `mcp.session.id`,
// `jsonrpc.request.id`, and for a tools/call `gen_ai.operation.name` = `execute_tool` and
// `gen_ai.tool.name`; `error.type` is the error class of a refused or failed call. A client's W3C
// `traceparent` (the HTTP header, else `params._meta.traceparent`) continues its trace.
//
// The request span starts when the request arrives but is opened only once the body is read, since
// the body may name the parent: authentication, which runs before, becomes its first child with the
// times it took. Nothing sensitive is recorded: no arguments, no token; the user and the agent only
// when the operator enables them (BULKHEAD_TRACE_IDENTITIES).
import { PROTOCOL_VERSION_META_KEY, TRACEPARENT_META_KEY } from '@modelcontextprotocol/server';
import {
  context as otelContext,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { Tracing } from '../../kernel/telemetry/tracing.ts';
import { contextFromTraceparent } from '../../kernel/telemetry/trace-context.ts';
import { failSpan, inSpan } from '../../kernel/telemetry/spans.ts';
import type { Principal } from '../identity/principal.ts';
import { MCP_CLIENT_NOTIFICATIONS, MCP_REQUEST_METHODS } from '../../kernel/wire/mcp-methods.ts';

export interface RequestTracing {
  tracing: Tracing;
  /** Record the user and agent identifiers (`enduser.id`, `gen_ai.agent.id`). */
  identities: boolean;
}

/** The request's headers (Node's): the span reads traceparent, mcp-session-id, mcp-protocol-version. */
export type TracedHeaders = Readonly<Record<string, string | string[] | undefined>>;

type Message = {
  method?: unknown;
  id?: unknown;
  params?: { _meta?: Record<string, unknown>; protocolVersion?: unknown };
};

/**
 * Any method a request names that MCP does not define for a client is `_OTHER` (as OpenTelemetry's
 * HTTP conventions name an unknown method): the span's name and `mcp.method.name` are never a string
 * the request chose, which would give a trace backend's index of span names one entry per request
 * (and carry whatever bytes it held).
 */
const MCP_METHODS: ReadonlySet<string> = new Set([...MCP_REQUEST_METHODS, ...MCP_CLIENT_NOTIFICATIONS]);
const OTHER_METHOD = '_OTHER';

function one(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value.length <= 128 ? value : undefined;
}

/** A protocol version only in its dated form (the 2026-07-28 era is not in the SDK's legacy list). */
function knownVersion(value: unknown): string | undefined {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : undefined;
}

function requestId(id: unknown): string | undefined {
  if (typeof id === 'number') return String(id);
  return typeof id === 'string' && id.length <= 128 ? id : undefined;
}

export interface StepOptions {
  attributes?: Attributes;
  /** The step starts no spans beneath it: its span is not made active. */
  leaf?: boolean;
}

export class RequestTrace {
  private readonly options: RequestTracing;
  private readonly headers: TracedHeaders;
  private readonly arrived = Date.now();
  private authenticatedAt: number | undefined;
  private span: Span | undefined;
  private root: Context | undefined;
  private recording = false;
  private errorType: string | undefined;
  private done = false;

  constructor(options: RequestTracing, headers: TracedHeaders) {
    this.options = options;
    this.headers = headers;
  }

  /** The bearer token was verified now (the authentication span ends here). */
  authenticated(): void {
    this.authenticatedAt = Date.now();
  }

  /** The trace id, once the request span is open. */
  get traceId(): string | undefined {
    return this.span?.spanContext().traceId;
  }

  /** Opens the request span from the parsed body; `tool` is the served tool's name (or `unknown`). */
  begin(input: { body: unknown; principal: Principal | undefined; tool?: string | undefined }): string {
    if (this.span) return this.span.spanContext().traceId;
    const message = (typeof input.body === 'object' && input.body !== null ? input.body : {}) as Message;
    const meta = message.params?._meta;
    const parent =
      contextFromTraceparent(one(this.headers.traceparent)) ??
      contextFromTraceparent(meta?.[TRACEPARENT_META_KEY]) ??
      ROOT_CONTEXT;
    const method =
      typeof message.method !== 'string'
        ? undefined
        : MCP_METHODS.has(message.method)
          ? message.method
          : OTHER_METHOD;
    const attributes: Attributes = {
      ...(method ? { 'mcp.method.name': method } : {}),
      'jsonrpc.protocol.version': '2.0',
    };
    const version =
      knownVersion(meta?.[PROTOCOL_VERSION_META_KEY]) ??
      knownVersion(one(this.headers['mcp-protocol-version'])) ??
      knownVersion(message.params?.protocolVersion);
    if (version) attributes['mcp.protocol.version'] = version;
    const session = one(this.headers['mcp-session-id']);
    if (session) attributes['mcp.session.id'] = session;
    const id = requestId(message.id);
    if (id !== undefined) attributes['jsonrpc.request.id'] = id;
    if (input.tool !== undefined) {
      attributes['gen_ai.operation.name'] = 'execute_tool';
      attributes['gen_ai.tool.name'] = input.tool;
    }
    const { principal } = input;
    if (principal) {
      attributes['bulkhead.tenant'] = principal.tenant;
      if (this.options.identities) {
        if (principal.user !== null) attributes['enduser.id'] = principal.user;
        attributes['gen_ai.agent.id'] = principal.agent;
      }
    }
    const name =
      method && method !== OTHER_METHOD ? (input.tool ? `${method} ${input.tool}` : method) : 'mcp request';
    const { tracer } = this.options.tracing;
    this.span = tracer.startSpan(
      name,
      { kind: SpanKind.SERVER, startTime: this.arrived, attributes },
      parent,
    );
    this.root = trace.setSpan(parent, this.span);
    // A trace not sampled records nothing beneath its request span: the steps only carry its context
    // on (to the runtime, which then records nothing either), at no cost per step.
    this.recording = this.span.isRecording();
    if (!this.recording) return this.span.spanContext().traceId;
    const auth = tracer.startSpan('authentication', { startTime: this.arrived }, this.root);
    if (this.authenticatedAt === undefined) {
      auth.setStatus({ code: SpanStatusCode.ERROR });
      auth.setAttribute('error.type', 'authentication');
    }
    auth.end(this.authenticatedAt ?? Date.now());
    return this.span.spanContext().traceId;
  }

  /** The parent of a step: the active step of this request, else the request span. */
  private parentOfStep(): Context | undefined {
    const root = this.root;
    if (!root) return undefined;
    const active = otelContext.active();
    return trace.getSpanContext(active)?.traceId === this.traceId ? active : root;
  }

  /**
   * Runs one step of the request in a child span. A step that starts spans of its own (dispatch,
   * idempotency: the runtime's, a supervisor job's) makes its span active while it runs; a `leaf`
   * step (rate_limit, audit) starts none, so its span is only timed: no context is made and carried
   * through its awaits.
   */
  async step<T>(name: string, fn: () => Promise<T>, options: StepOptions = {}): Promise<T> {
    if (!this.recording) return this.root && !options.leaf ? otelContext.with(this.root, fn) : fn();
    const parent = this.parentOfStep();
    if (!parent) return fn();
    const span = this.options.tracing.tracer.startSpan(
      name,
      { attributes: options.attributes ?? {} },
      parent,
    );
    if (!options.leaf) return inSpan(span, parent, fn);
    try {
      return await fn();
    } catch (error) {
      failSpan(span);
      throw error;
    } finally {
      span.end();
    }
  }

  /** A step that does not wait (validation): its span is its duration. */
  stepSync<T>(name: string, fn: () => T): T {
    if (!this.recording) return fn();
    const parent = this.parentOfStep();
    if (!parent) return fn();
    const span = this.options.tracing.tracer.startSpan(name, {}, parent);
    try {
      return fn();
    } finally {
      span.end();
    }
  }

  /** The request failed with this error class (`validation`, `rate_limit`, ...): its `error.type`. */
  failed(errorType: string): void {
    this.errorType = errorType;
  }

  /** The response went out (or the connection closed): the request span ends. */
  finish(status: number): void {
    if (this.done) return;
    this.done = true;
    if (!this.span) this.begin({ body: undefined, principal: undefined });
    const span = this.span!;
    span.setAttribute('http.response.status_code', status);
    const errorType = this.errorType ?? (status >= 400 ? String(status) : undefined);
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

/** `trace.step`, or the step alone when the request is not traced (the hot path stays as it was). */
export function traced<T>(
  trace: RequestTrace | undefined,
  name: string,
  fn: () => Promise<T>,
  options?: StepOptions,
): Promise<T> {
  return trace ? trace.step(name, fn, options) : fn();
}
