// The one /mcp endpoint, both protocol eras, composed from the SDK's own pieces (the
// `isLegacyRequest` pattern of `createMcpHandler`'s documentation, protocol-era.ts):
//
// - 2026-07-28 (requests carrying the per-request `_meta` envelope): the SDK's strict modern handler,
//   stateless, `server/discover`, `Mcp-Method`/`Mcp-Name` checked against the body (-32020).
// - 2025-era traffic: real sessions. `initialize` is answered by the SDK's stateless legacy leg and
//   the response gets a new `Mcp-Session-Id` whose record (bound to the principal) lives in Redis;
//   every later request must name a live session of the same principal, and is again answered by the
//   stateless leg with a fresh server, so any replica can serve it. DELETE ends the session (404
//   afterwards). GET is 405 (the spec allows it): a 2025 session gets no server-initiated messages.
//   A tenant's tool list can change mid-session (an upgrade, a tool withheld by the drift guard);
//   `tools/list_changed` reaches only 2026-07-28 `subscriptions/listen` streams, and of those only
//   the streams of the tenants the change concerns (router/mcp/tenant-listeners.ts); a 2025 client
//   (no stream to send it on: the legacy leg serves each request with a fresh server, and GET is
//   405) sees the change on its next `tools/list`.
//
// In front of both: the body is read and parsed once (the Node adapter in app.ts bounds its size,
// 413), JSON-RPC batches are refused (removed from the protocol in 2025-06-18), the request context
// is built (router/request/) and a missing scope is answered with the step-up 403. The SDK handlers
// then get the parsed body and read nothing more. Authentication has already happened: `authInfo`
// carries the principal and the tenant record the token verifier read.
import {
  createMcpHandler,
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  isInitializeRequest,
  isJsonContentType,
  legacyStatelessFallback,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AuthInfo,
  type McpHandlerRequestOptions,
  type Server,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { Principal } from '../identity/principal.ts';
import { buildRequestContext, type RequestContext } from '../request/request-context.ts';
import type { RequestTrace } from '../request/request-trace.ts';
import { stepUpResponse } from '../request/step-up.ts';
import type { ToolSurface } from '../tools/tool-surface.ts';
import type { TenantIncarnation } from '../tools/pin-watcher.ts';
import { stateUnavailable } from '../pipeline/state-guard.ts';
import { jsonRpcErrorResponse } from './json-rpc.ts';
import { servedAsLegacy } from './protocol-era.ts';
import { isClientAnswer, type ClientRequests } from './client-requests.ts';
import { declaredQuestions } from './input-rounds.ts';
import type { ServerRequestInfo } from './router-server.ts';
import type { EarlyAdmission } from '../pipeline/call-pipeline.ts';
import type { OpenedSession, SessionStore } from './sessions.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../kernel/wire/json-depth.ts';
import { TenantListeners } from './tenant-listeners.ts';
import { endingWithToken, listenRefusal } from './listen-limit.ts';

/** The 2026-07-28 request that opens a change stream (the only one the SDK subscribes from). */
const LISTEN_METHOD = 'subscriptions/listen';

export interface McpEndpointOptions {
  /** Builds the MCP server that answers one request, from that request's context. */
  serverFor(context: RequestContext, info: ServerRequestInfo): Server;
  /**
   * Starts the admission of the tools/call a request carries, if it will run (router-server.ts);
   * `holdAhead` where the endpoint settles it once the SDK has answered.
   */
  admit?(context: RequestContext, options: { holdAhead: boolean }): EarlyAdmission | undefined;
  /** Open questions to 2025 clients and their requests in flight: a POSTed answer or cancellation is handed to the one it names. */
  questions: ClientRequests;
  sessions: SessionStore;
  /** The tool surface the request context looks tools up in. */
  surface: ToolSurface;
  /** RFC 9728 metadata URL the step-up challenge points at. */
  resourceMetadataUrl: string;
  /** The SDK handlers' own bound, reached only by a body this endpoint did not parse (non-JSON). */
  maxBodyBytes: number;
  logger: Logger;
}

export interface McpEndpoint {
  fetch(request: Request, options?: McpHandlerRequestOptions): Promise<Response>;
  close(): Promise<void>;
  /** Sends tools/list_changed to the 2026-07-28 `subscriptions/listen` streams of these tenants only. */
  toolsChanged(tenants: readonly string[]): void;
  /**
   * These tenants are gone (offboarded, or onboarded again under the id since): the streams opened
   * at them are told nothing more.
   */
  tenantsGone(gone: readonly TenantIncarnation[]): void;
}

/** What the bearer middleware (router/auth/bearer-auth.ts) puts in `authInfo.extra`. */
interface AuthExtra {
  principal?: Principal;
  tenant?: TenantRecord;
  context?: RequestContext;
  /** The request's span, opened by the app when the router traces (router/request/request-trace.ts). */
  trace?: RequestTrace;
  /** A 2025 session's logging/setLevel, read with the session record. */
  logLevel?: string;
  /** The questions a 2025 session's client declared it answers, read with the session record. */
  asks?: readonly string[];
  /**
   * Whether the request's client is the only one the router hears from right now, put here by the
   * app (router/http/connection-activity.ts): its Redis steps then go at once. None: never.
   */
  alone?: () => boolean;
  /**
   * The request's hold on the router's shutdown, put here by the app (router/http/request-drain.ts):
   * `streaming()` says shutdown need not wait for it.
   */
  drain?: { streaming(): void };
  /** The tools/call's admission, started as the request is handed to the SDK (router-server.ts). */
  admission?: EarlyAdmission;
}

function extraOf(authInfo: AuthInfo | undefined): AuthExtra {
  return authInfo?.extra ?? {};
}

function contextOf(authInfo: AuthInfo | undefined): RequestContext {
  const { context } = extraOf(authInfo);
  if (!context) throw new Error('a request reached the MCP server without its context');
  return context;
}

/**
 * The body, read and parsed once: a JSON POST's value, undefined without one. A POST of another
 * media type is left unread for the SDK, which refuses it (415) without running anything.
 */
async function parsedBodyOf(request: Request): Promise<{ body: unknown } | Response> {
  const json = isJsonContentType(request.headers.get('content-type'));
  if (request.method.toUpperCase() !== 'POST' || !json) return { body: undefined };
  let body: unknown;
  try {
    const text = await request.text();
    if (nestsDeeperThan(text, MAX_JSON_DEPTH))
      return jsonRpcErrorResponse(
        new BulkheadError('parse_error', `Parse error: nested deeper than ${MAX_JSON_DEPTH} levels`),
      );
    body = JSON.parse(text) as unknown;
  } catch {
    return jsonRpcErrorResponse(new BulkheadError('parse_error', 'Parse error'));
  }
  if (Array.isArray(body)) {
    return jsonRpcErrorResponse(
      new BulkheadError('batch_not_supported', 'Invalid Request: JSON-RPC batches are not supported'),
    );
  }
  return { body };
}

function negotiatedVersion(body: unknown): string {
  const requested = (body as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : DEFAULT_NEGOTIATED_PROTOCOL_VERSION;
}

/** The value `Mcp-Name` must carry for a request: the tool or prompt name, or the resource URI. */
function nameInBody(body: { method?: unknown; params?: { name?: unknown; uri?: unknown } }): unknown {
  return body.method === 'resources/read' ? body.params?.uri : body.params?.name;
}

/**
 * 2025-era clients do not send `Mcp-Method`/`Mcp-Name`, and the SDK's legacy leg ignores them. When a
 * request carries them anyway they must still match the body, as on the modern path: a proxy or WAF
 * that routes or filters on these headers must never be shown one method while another one runs.
 */
function legacyHeaderMismatch(request: Request, parsedBody: unknown): string | undefined {
  if (typeof parsedBody !== 'object' || parsedBody === null) return undefined;
  const body = parsedBody as { method?: unknown; params?: { name?: unknown; uri?: unknown } };
  const method = request.headers.get('mcp-method');
  if (method !== null && method !== body.method) return 'Mcp-Method does not match the body';
  const name = request.headers.get('mcp-name');
  if (name !== null && name !== nameInBody(body)) return 'Mcp-Name does not match the body';
  return undefined;
}

/**
 * The answer to a 2025 session's step that Redis did not answer (its commands are bounded:
 * router/pipeline/state-guard.ts), opening, checking or ending it: `state_unavailable`, 503 with
 * Retry-After, so that the client asks again. Before, a failed opening or ending reached the Node
 * adapter, whose 500 "Internal server error" tells a client the router is broken.
 */
function sessionStoreUnavailable(logger: Logger, error: unknown): Response {
  logger.warn({ err: error }, 'session store unavailable');
  const refusal = stateUnavailable(error);
  const retryAfter = String(Math.ceil((refusal.retryAfterMs ?? 1_000) / 1_000));
  return jsonRpcErrorResponse(refusal, { 'retry-after': retryAfter });
}

export function createMcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const { sessions, logger, maxBodyBytes } = options;
  const onerror = (error: Error): void => logger.warn({ err: error }, 'mcp request error');
  const factory = ({ authInfo, era }: { authInfo?: AuthInfo; era?: string }): Server =>
    options.serverFor(contextOf(authInfo), {
      era: era === 'legacy' ? 'legacy' : 'modern',
      logLevel: extraOf(authInfo).logLevel,
      asks: extraOf(authInfo).asks,
      admission: extraOf(authInfo).admission,
    });
  const listeners = new TenantListeners(onerror);
  const modern = createMcpHandler(factory, {
    bus: listeners,
    legacy: 'reject',
    maxRequestBodySize: maxBodyBytes,
    onerror,
  });
  const legacy = legacyStatelessFallback(factory, onerror, { maxRequestBodySize: maxBodyBytes });

  async function serveLegacy(
    request: Request,
    context: RequestContext,
    requestOptions: McpHandlerRequestOptions,
  ): Promise<Response> {
    const { principal, body: parsedBody } = context;
    const method = request.method.toUpperCase();
    // Not JSON: nothing can run; the SDK refuses the media type itself (415).
    if (method === 'POST' && parsedBody === undefined) return legacy(request, requestOptions);
    const mismatch = legacyHeaderMismatch(request, parsedBody);
    if (mismatch)
      return jsonRpcErrorResponse(new BulkheadError('header_mismatch', `Bad Request: ${mismatch}`));
    if (method === 'POST' && isInitializeRequest(parsedBody)) {
      // A stale Mcp-Session-Id on initialize is ignored: initialize always opens a new session.
      const response = await legacy(request, requestOptions);
      if (response.status !== 200) return response;
      let opened: OpenedSession;
      try {
        opened = await sessions.create(
          principal,
          context.tenant,
          negotiatedVersion(parsedBody),
          declaredQuestions(parsedBody.params.capabilities),
        );
      } catch (error) {
        // No session to name: the SDK's answer is dropped, its stream cancelled (which ends its server).
        response.body?.cancel().catch(() => undefined);
        return sessionStoreUnavailable(logger, error);
      }
      const { id, ended } = opened;
      const who = { tenant: principal.tenant, user: principal.user, agent: principal.agent };
      logger.info(who, 'mcp session opened');
      // Its tenant was at its bound of sessions (sessions.ts): its least recently used ended to make room.
      if (ended > 0)
        logger.warn({ ...who, ended }, 'ended the least recently used sessions of a tenant at its bound');
      const headers = new Headers(response.headers);
      headers.set('mcp-session-id', id);
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    }
    const sessionId = request.headers.get('mcp-session-id');
    if (!sessionId) {
      return jsonRpcErrorResponse(
        new BulkheadError('session_required', 'Bad Request: Mcp-Session-Id header is required'),
      );
    }
    let touched: Awaited<ReturnType<SessionStore['touch']>>;
    try {
      // The binding is checked before the session's idle timer restarts (sessions.ts).
      touched = await sessions.touch(sessionId, principal, context.tenant);
    } catch (error) {
      return sessionStoreUnavailable(logger, error);
    }
    if (!touched?.bound) {
      if (touched) {
        // Someone holds another principal's session id (or one of an earlier tenant of this id):
        // refuse exactly as for an unknown session, so the answer does not confirm that it exists.
        logger.warn(
          {
            tenant: principal.tenant,
            user: principal.user,
            agent: principal.agent,
            owner_tenant: touched.record.tenant,
          },
          'refused a session id bound to another principal',
        );
      }
      return jsonRpcErrorResponse(new BulkheadError('session_not_found', 'Session not found'));
    }
    const { record } = touched;
    if (method === 'DELETE') {
      try {
        await sessions.terminate(sessionId, record.tenant);
      } catch (error) {
        return sessionStoreUnavailable(logger, error);
      }
      logger.info(
        { tenant: principal.tenant, user: principal.user, agent: principal.agent },
        'mcp session closed',
      );
      return new Response(null, { status: 200 });
    }
    if (method === 'GET') {
      const reason = 'Method not allowed: this server sends no server-initiated messages to 2025 sessions';
      return jsonRpcErrorResponse(new BulkheadError('method_not_allowed', reason), { allow: 'POST, DELETE' });
    }
    // A client's answer to an elicitation or sampling request the router sent during a call.
    if (isClientAnswer(parsedBody)) {
      options.questions.deliver(sessionId, parsedBody);
      return new Response(null, { status: 202 });
    }
    // A client's cancellation of one of the session's requests in flight here: aborted
    // (client-requests.ts). The SDK still answers the notification (202).
    options.questions.cancel(sessionId, parsedBody);
    const { authInfo } = requestOptions;
    if (!authInfo) return legacy(request, requestOptions);
    // After the session check: a call on a session that is gone is refused without being charged.
    // Nothing held ahead: the SSE answer of a 2025 session leaves before its handler runs.
    const admission = options.admit?.(context, { holdAhead: false });
    const { logLevel, asks } = record;
    if (logLevel === undefined && asks === undefined && !admission) return legacy(request, requestOptions);
    return legacy(request, {
      ...requestOptions,
      authInfo: { ...authInfo, extra: { ...authInfo.extra, logLevel, asks, admission } },
    });
  }

  return {
    async fetch(request, requestOptions = {}) {
      const { authInfo } = requestOptions;
      const { principal, tenant, trace, alone } = extraOf(authInfo);
      if (!authInfo || !principal) throw new Error('unauthenticated request reached the MCP endpoint');
      const parsed = await parsedBodyOf(request);
      if (parsed instanceof Response) return parsed;
      const { body } = parsed;
      const context = buildRequestContext({
        principal,
        tenant,
        body,
        surface: options.surface,
        logger,
        trace,
        alone,
      });
      const stepUp = stepUpResponse(context, options.resourceMetadataUrl);
      if (stepUp) return stepUp;
      const legacyEra = await servedAsLegacy(request, body, maxBodyBytes);
      // A 2025 session's call is admitted after its session check, in serveLegacy.
      const admission = legacyEra ? undefined : options.admit?.(context, { holdAhead: true });
      const forward: McpHandlerRequestOptions = {
        ...requestOptions,
        authInfo: { ...authInfo, extra: { ...authInfo.extra, context, admission } },
        ...(body === undefined ? {} : { parsedBody: body }),
      };
      // A listen request opens a stream of this principal's tenant (tenant-listeners.ts); only that
      // request needs the async context, which every other request would pay for.
      const serve = () => modern.fetch(request, forward);
      const listen = (body as { method?: unknown } | undefined)?.method === LISTEN_METHOD;
      // A stream ends with its token (listen-limit.ts).
      const serveListen = () => modern.fetch(endingWithToken(request, principal.expiresAt), forward);
      if (listen && !legacyEra) {
        const refused = listenRefusal(listeners, principal.tenant, (body as { id?: unknown }).id);
        if (refused) return refused;
        // Open until its client goes: the router's shutdown does not wait for it.
        extraOf(authInfo).drain?.streaming();
      }
      // The handlers start the request's audit records; the answer leaves once they are written.
      let response: Response;
      try {
        response = legacyEra
          ? await serveLegacy(request, context, forward)
          : await (listen
              ? listeners.serving(principal.tenant, context.tenant?.createdAt, serveListen)
              : serve());
      } finally {
        // The handler took the admission by now, or never will (router-server.ts, admitEarly); what
        // it holds goes back even when the SDK threw (a gate slot kept would be lost for good).
        admission?.settle();
      }
      return context.answer.hold(response);
    },
    close: () => modern.close(),
    toolsChanged: (tenants) => listeners.publishTo(tenants, { kind: 'tools_list_changed' }),
    tenantsGone: (gone) => {
      for (const { id, createdAt } of gone) listeners.forget(id, createdAt);
    },
  };
}
