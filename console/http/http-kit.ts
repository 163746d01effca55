// The console's HTTP plumbing: security headers on every answer, JSON in and out, cookies, and the
// one error style (a BulkheadError's row decides the status; the body says the code and why).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { errorRow } from '../../kernel/errors/error-codes.ts';

/**
 * Scripts, styles and data only from the console itself: no inline script or style, no eval, no
 * other origin, no framing. The bundle (console/ui/assets.ts) is built to need nothing more.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/**
 * HSTS for a console whose public URL is https: a year, without includeSubDomains, as the console's
 * host speaks for itself, not for the other hosts of its domain.
 */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

/**
 * The headers of every answer. `https` is whether the console's configured public URL is https, not
 * whether this request came over TLS: behind a TLS proxy every request arrives over plain http.
 */
export function secure(res: ServerResponse, https: boolean): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  if (https) res.setHeader('strict-transport-security', STRICT_TRANSPORT_SECURITY);
}

/** A page's `limit` from the query: a whole number from 1 to `max`, `fallback` when absent. */
export function queryLimit(query: URLSearchParams, bounds: { max: number; fallback: number }): number {
  const raw = query.get('limit');
  if (raw === null) return bounds.fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > bounds.max)
    throw new BulkheadError('invalid_input', `limit must be a whole number from 1 to ${bounds.max}`);
  return limit;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (isBulkheadError(error)) {
    const status = (errorRow(error.code) as { http?: number }).http ?? statusOfClass(error);
    sendJson(res, status, { error: error.code, message: error.message });
    return;
  }
  sendJson(res, 500, { error: 'internal', message: 'the console failed; see its log' });
}

function statusOfClass(error: BulkheadError): number {
  switch (error.errorClass) {
    case 'operator':
    case 'validation':
      return error.code === 'unknown_id' ? 404 : 400;
    case 'authorization':
      return error.code === 'tenant_not_found' ? 404 : 403;
    case 'conflict':
      return 409;
    case 'transient':
      return 503;
    default:
      return 500;
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

const MAX_BODY_BYTES = 16 * 1024;

/** A JSON object body of at most 16 KiB. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
    throw new BulkheadError('invalid_input', 'send the action as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BulkheadError('invalid_input', 'the request body is too large');
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new BulkheadError('invalid_input', 'the request body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new BulkheadError('invalid_input', 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  sameSite: 'Strict' | 'Lax';
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

export function cookie(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    'HttpOnly',
    `SameSite=${options.sameSite}`,
    `Max-Age=${options.maxAge}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
