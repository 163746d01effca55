// Origin and Host validation in front of /mcp (MCP transports spec: servers MUST validate Origin;
// DNS rebinding protection). Runs before authentication: a browser page on a foreign origin, or a
// request for a hostname this server does not answer to, is refused whatever token it carries.
import { validateHostHeader } from '@modelcontextprotocol/server';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export interface OriginPolicy {
  /** Exact origins (`scheme://host[:port]`) a browser may call from. */
  allowedOrigins: string[];
  /** Hostnames (no port; IPv6 in brackets) the Host header may name. */
  allowedHosts: string[];
}

/** The default policy: the resource URL's own origin and hostname, nothing else. */
export function defaultOriginPolicy(resourceUrl: string): OriginPolicy {
  const url = new URL(resourceUrl);
  return { allowedOrigins: [url.origin], allowedHosts: [url.hostname] };
}

/**
 * Whether the request carries more than one Host header. Node keeps the first and drops the others,
 * while a proxy or gateway in front may route by the last: the router would then check one hostname
 * while the request was sent for another. RFC 9112 (section 3.2) has a server answer such a request
 * 400, as bearer-auth.ts answers a repeated Authorization header.
 */
function repeatsHost(req: Request): boolean {
  let seen = 0;
  const raw = req.rawHeaders;
  for (let at = 0; at < raw.length; at += 2) if (raw[at]?.toLowerCase() === 'host') seen++;
  return seen > 1;
}

/**
 * A refusal goes to `next` as a BulkheadError (host_repeated, forbidden_host, forbidden_origin); the
 * app answers it as the JSON-RPC error its row in the error table gives (router/mcp/json-rpc.ts).
 *
 * Host: the SDK's own port-agnostic hostname check (a rebinding attack changes the name, not the
 * port). Origin: an EXACT origin match, stricter than the SDK's port-agnostic hostname check, because
 * any other web app on the same host (another port) is a different origin and must not reach /mcp.
 * A request without Origin passes: non-browser MCP clients send none, and browsers always do.
 */
export function originGuard(policy: OriginPolicy, logger: Logger) {
  const origins = new Set(policy.allowedOrigins.map((origin) => new URL(origin).origin));
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (repeatsHost(req)) {
      logger.warn({ host: req.headers.host }, 'refused request: more than one Host header');
      next(new BulkheadError('host_repeated', 'Bad Request: more than one Host header'));
      return;
    }
    const host = validateHostHeader(req.headers.host, policy.allowedHosts);
    if (!host.ok) {
      logger.warn({ host: req.headers.host, reason: host.errorCode }, 'refused request: Host not allowed');
      next(new BulkheadError('forbidden_host', 'Forbidden: Host header not allowed'));
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(URL.parse(origin)?.origin ?? '')) {
      logger.warn({ origin }, 'refused request: Origin not allowed');
      next(new BulkheadError('forbidden_origin', 'Forbidden: Origin not allowed'));
      return;
    }
    next();
  };
}
