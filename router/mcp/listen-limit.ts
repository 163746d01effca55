// A 2026-07-28 `subscriptions/listen` stream stays open as long as its client keeps it, and the SDK
// refuses a new one once its handler has 1,024 open (`maxSubscriptions`), whoever holds them: one
// tenant's agents opening that many would leave every other tenant's clients unable to listen for
// tools/list_changed on this router. So one tenant holds at most MAX_LISTEN_STREAMS_PER_TENANT of
// them; past it, its listen request is refused in-band as the SDK refuses one past its own limit
// (HTTP 200, a JSON-RPC error before any acknowledgement), with the structured `listen_limit`.
// Two requests of one tenant checked at the same moment may both pass: the bound is a tenant's
// share, not an exact count.
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
