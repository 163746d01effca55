// A 2026-07-28 `subscriptions/listen` stream stays open as long as its client keeps it, and the SDK
// refuses a new one once its handler has 1,024 open (`maxSubscriptions`), whoever holds them: one
// tenant's agents opening that many would leave every other tenant's clients unable to listen for
// tools/list_changed on this router. So one tenant holds at most MAX_LISTEN_STREAMS_PER_TENANT of
// them; past it, its listen request is refused in-band as the SDK refuses one past its own limit
// (HTTP 200, a JSON-RPC error before any acknowledgement), with the structured `listen_limit`.
// Two requests of one tenant checked at the same moment may both pass: the bound is a tenant's
// share, not an exact count.
//
// A stream is also no longer than the token that opened it: it is one request, authenticated once,
// and before, a client whose access had ended (its token expired and not renewed: an agent
// deregistered, a user removed at the IdP) went on hearing its tenant's changes for as long as it
// kept the stream. The stream's request ends when the token does (endingWithToken), and the SDK
// closes a stream whose request ends; a client that still may listen opens another with its new
// token.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { protocolErrorFor } from './json-rpc.ts';
import type { TenantListeners } from './tenant-listeners.ts';

/** A sixteenth of the SDK's limit: it takes sixteen tenants at their share to fill the router's. */
export const MAX_LISTEN_STREAMS_PER_TENANT = 64;

/** The refusal of a listen request of `tenant` at its share, or undefined to let it open. */
export function listenRefusal(
  listeners: Pick<TenantListeners, 'count'>,
  tenant: string,
  requestId: unknown,
): Response | undefined {
  if (listeners.count(tenant) < MAX_LISTEN_STREAMS_PER_TENANT) return undefined;
  const refusal = protocolErrorFor(
    new BulkheadError(
      'listen_limit',
      `this tenant has ${MAX_LISTEN_STREAMS_PER_TENANT} subscriptions/listen streams open on this server: close one first`,
    ),
  );
  const { code, message, data } = refusal;
  return Response.json({ jsonrpc: '2.0', id: requestId ?? null, error: { code, message, data } });
}

/** The longest a timer waits (2^31 - 1 ms, about 24 days): a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The listen request as the SDK serves it, its signal aborted when the client goes or when the
 * token expires (`expiresAt`: the principal's, in seconds: when the router stops accepting the
 * token), whichever is first.
 * Its body was read already: the SDK gets it parsed.
 */
export function endingWithToken(request: Request, expiresAt: number): Request {
  const left = Math.min(Math.max(0, expiresAt * 1000 - Date.now()), MAX_TIMER_MS);
  const signal = AbortSignal.any([request.signal, AbortSignal.timeout(left)]);
  return new Request(request.url, { method: request.method, headers: request.headers, signal });
}
