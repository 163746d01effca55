// The one /mcp endpoint, both protocol eras, composed from the SDK's own pieces (the
// `isLegacyRequest` pattern of `createMcpHandler`'s documentation):
//
// - 2026-07-28 (requests carrying the per-request `_meta` envelope): the SDK's strict modern handler,
//   stateless, `server/discover`, `Mcp-Method`/`Mcp-Name` checked against the body (-32020).
// - 2025-era traffic: real sessions. `initialize` is answered by the SDK's stateless legacy leg and
//   the response gets a new `Mcp-Session-Id` whose record (bound to the principal) lives in Redis;
//   every later request must name a live session of the same principal, and is again answered by the
//   stateless leg with a fresh server, so any replica can serve it. DELETE ends the session (404
//   afterwards). GET is 405 (the spec allows it): a 2025 session gets no server-initiated messages.
//   A tenant's tool list can change mid-session (an upgrade, a tool withheld by the drift guard);
//   `tools/list_changed` reaches only 2026-07-28 `subscriptions/listen` streams
//   (router/tools/pin-watcher.ts), and a 2025 client sees the change on its next `tools/list`.
//
// In front of both: JSON-RPC batches are refused (removed from the protocol in 2025-06-18) and the
// body is bounded (413). Authentication has already happened: `authInfo` carries the principal.
import {
  createMcpHandler,
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  isInitializeRequest,
  isLegacyRequest,
  legacyStatelessFallback,
  readRequestBody,
  SUPPORTED_PROTOCOL_VERSIONS,
  type McpHandlerRequestOptions,
  type McpServerFactory,
  type McpHttpHandler,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Principal } from '../identity/principal.ts';
import { sameBinding, type SessionStore } from './sessions.ts';

export interface McpEndpointOptions {
  /** Builds the server for one request from the request's own principal (`authInfo.extra`). */
  factory: McpServerFactory;
  sessions: SessionStore;
  maxBodyBytes: number;
  logger: Logger;
}

export interface McpEndpoint {
  fetch(request: Request, options?: McpHandlerRequestOptions): Promise<Response>;
  close(): Promise<void>;
  /** Change notifications for 2026-07-28 `subscriptions/listen` streams (tools/list_changed). */
  notify: McpHttpHandler['notify'];
}

const INVALID_REQUEST = -32600;
const SERVER_ERROR = -32000;
const SESSION_NOT_FOUND = -32001;
const HEADER_MISMATCH = -32020;

export function jsonRpcError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function principalOf(options: McpHandlerRequestOptions | undefined): Principal {
  const principal = options?.authInfo?.extra?.principal as Principal | undefined;
  if (!principal) throw new Error('unauthenticated request reached the MCP endpoint');
  return principal;
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

export function createMcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const { sessions, logger, maxBodyBytes } = options;
  const onerror = (error: Error): void => logger.warn({ err: error }, 'mcp request error');
  const modern = createMcpHandler(options.factory, {
    legacy: 'reject',
    maxRequestBodySize: maxBodyBytes,
    onerror,
  });
  const legacy = legacyStatelessFallback(options.factory, onerror, { maxRequestBodySize: maxBodyBytes });

  async function serveLegacy(
    request: Request,
    parsedBody: unknown,
    requestOptions: McpHandlerRequestOptions,
  ): Promise<Response> {
    const principal = principalOf(requestOptions);
    const method = request.method.toUpperCase();
    // Unparseable: nothing can run; the SDK answers the JSON-RPC parse error (-32700).
    if (method === 'POST' && parsedBody === undefined) return legacy(request, requestOptions);
    const mismatch = legacyHeaderMismatch(request, parsedBody);
    if (mismatch) return jsonRpcError(400, HEADER_MISMATCH, `Bad Request: ${mismatch}`);
    if (method === 'POST' && isInitializeRequest(parsedBody)) {
      // A stale Mcp-Session-Id on initialize is ignored: initialize always opens a new session.
      const response = await legacy(request, requestOptions);
      if (response.status !== 200) return response;
      const id = await sessions.create(principal, negotiatedVersion(parsedBody));
      logger.info(
        { tenant: principal.tenant, user: principal.user, agent: principal.agent },
        'mcp session opened',
      );
      const headers = new Headers(response.headers);
      headers.set('mcp-session-id', id);
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    }
    const sessionId = request.headers.get('mcp-session-id');
    if (!sessionId) return jsonRpcError(400, SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');
    const record = await sessions.touch(sessionId);
    if (!record || !sameBinding(record, principal)) {
      if (record) {
        // Someone holds another principal's session id: refuse exactly as for an unknown session,
        // so the answer does not confirm that the session exists.
        logger.warn(
          {
            tenant: principal.tenant,
            user: principal.user,
            agent: principal.agent,
            owner_tenant: record.tenant,
          },
          'refused a session id bound to another principal',
        );
      }
      return jsonRpcError(404, SESSION_NOT_FOUND, 'Session not found');
    }
    if (method === 'DELETE') {
      await sessions.terminate(sessionId);
      logger.info(
        { tenant: principal.tenant, user: principal.user, agent: principal.agent },
        'mcp session closed',
      );
      return new Response(null, { status: 200 });
    }
    if (method === 'GET') {
      const reason = 'Method not allowed: this server sends no server-initiated messages to 2025 sessions';
      return jsonRpcError(405, SERVER_ERROR, reason, { allow: 'POST, DELETE' });
    }
    return legacy(request, requestOptions);
  }

  return {
    async fetch(request, requestOptions = {}) {
      let parsedBody: unknown;
      if (request.method.toUpperCase() === 'POST') {
        const body = await readRequestBody(request.clone(), maxBodyBytes);
        if (body.tooLarge) {
          return jsonRpcError(413, SERVER_ERROR, `Payload Too Large: the body exceeds ${maxBodyBytes} bytes`);
        }
        try {
          parsedBody = JSON.parse(body.text) as unknown;
        } catch {
          parsedBody = undefined; // the SDK answers the parse error (-32700) itself
        }
        if (Array.isArray(parsedBody)) {
          return jsonRpcError(400, INVALID_REQUEST, 'Invalid Request: JSON-RPC batches are not supported');
        }
      }
      const forward: McpHandlerRequestOptions = {
        ...requestOptions,
        ...(parsedBody === undefined ? {} : { parsedBody }),
      };
      if (await isLegacyRequest(request, parsedBody, { maxRequestBodySize: maxBodyBytes })) {
        return serveLegacy(request, parsedBody, forward);
      }
      return modern.fetch(request, forward);
    },
    close: () => modern.close(),
    notify: modern.notify,
  };
}
