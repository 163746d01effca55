// Request bodies still arriving, per tenant. The router reads a /mcp body whole before anything
// runs (the Node adapter in app.ts, up to BULKHEAD_MAX_BODY_BYTES), and Node gives a request its
// request timeout (5 minutes) to arrive. A client with a valid token that opens connection after
// connection and sends each body slowly thus made the router hold up to the body bound per
// connection, with no bound on the connections: 300 such requests held 321 MB of the router's heap
// (test/integration/body-reads.test.ts), and a few thousand end the process every tenant is served
// by. So each tenant has a share of the bytes one router may be waiting for: the bodies its requests
// announced (Content-Length; a chunked body counts as the bound) that have not arrived yet, at most
// MAX_BODIES_IN_PROGRESS_PER_TENANT bodies of the bound. A request past it is refused at once (429,
// Retry-After), before any of its body is read. Every body counts until it has arrived, even one sent
// with its headers (the middleware runs before Node parses it), but a small body arrives at once:
// what holds a share is large bodies and slow ones, and one tenant's take nothing from another's.
import type { NextFunction, Response } from 'express';
import type { Logger } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { AuthenticatedRequest } from '../auth/bearer-auth.ts';

/** A tenant's share, in bodies of the size bound: its clients' slow uploads, no more. */
export const MAX_BODIES_IN_PROGRESS_PER_TENANT = 32;

/** The wait a refused client is told (Retry-After): a slow body holds its place for seconds. */
const RETRY_AFTER_MS = 1_000;

export interface BodyReadLimitOptions {
  logger: Logger;
  /** The body bound (BULKHEAD_MAX_BODY_BYTES): a longer body is refused 413 unread. */
  maxBodyBytes: number;
}

/**
 * What a request's body may still hold when it is admitted: what it announced, within the bound; a
 * chunked one, the bound; none without Content-Length or Transfer-Encoding (no body, RFC 9112).
 */
function announced(req: AuthenticatedRequest, maxBodyBytes: number): number {
  const declared = req.headers['content-length'];
  if (declared === undefined) return req.headers['transfer-encoding'] === undefined ? 0 : maxBodyBytes;
  const length = Number(declared);
  return Number.isSafeInteger(length) && length >= 0 ? Math.min(length, maxBodyBytes) : maxBodyBytes;
}

/** Express middleware after authentication: bounds the bytes each tenant's bodies still owe. */
export function bodyReadLimit(options: BodyReadLimitOptions) {
  const share = MAX_BODIES_IN_PROGRESS_PER_TENANT * options.maxBodyBytes;
  const awaited = new Map<string, number>();
  return (req: AuthenticatedRequest, res: Response, next: NextFunction): void => {
    const tenant = req.auth?.extra.principal.tenant;
    const bytes = announced(req, options.maxBodyBytes);
    // Complete: the whole body is in the router's buffers already.
    if (tenant === undefined || bytes === 0 || req.complete) return next();
    const held = awaited.get(tenant) ?? 0;
    if (held + bytes > share) {
      options.logger.warn({ tenant, awaited_bytes: held }, 'refused a request body past its tenant share');
      // Connection: close, so what the client is still sending is not read on this connection.
      res.setHeader('Connection', 'close');
      const message = `this tenant's request bodies still arriving at this server reach its share (${share} bytes): send more once they have arrived`;
      next(new BulkheadError('bodies_in_progress', message, { retryAfterMs: RETRY_AFTER_MS }));
      return;
    }
    awaited.set(tenant, held + bytes);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      const left = (awaited.get(tenant) ?? bytes) - bytes;
      if (left > 0) awaited.set(tenant, left);
      else awaited.delete(tenant);
    };
    // 'end' once the adapter has read the body whole; 'close' when the client went away first.
    req.once('end', release);
    res.once('close', release);
    next();
  };
}
