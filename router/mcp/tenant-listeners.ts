// The change-event bus of the endpoint's 2026-07-28 `subscriptions/listen` streams, each stream
// registered with the tenant of the verified principal that opened it, so that a change reaches only
// the streams of the tenants it concerns (router/tools/pin-watcher.ts). The SDK's own bus hands every
// event to every stream: one tenant's upgrade or suspension would reach the clients of all the
// others (a timing side channel across the tenant boundary) and make all of them re-list.
//
// The SDK registers a stream's listener from inside the request that opens it (`subscribe` runs
// while `fetch` serves that request) and tells it nothing of the request, so the tenant travels
// with the request's async context: the endpoint serves each request within `serving(tenant)`.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

type Listener = (event: ServerEvent) => void;

export class TenantListeners implements ServerEventBus {
  readonly #serving = new AsyncLocalStorage<string>();
  /** Each tenant's open streams, by the tenant of the principal that opened each. */
  readonly #streams = new Map<string, Set<Listener>>();
  readonly #onerror: (error: Error) => void;

  constructor(onerror: (error: Error) => void) {
    this.#onerror = onerror;
  }

  /** How many streams of `tenant` are open. */
  count(tenant: string): number {
    return this.#streams.get(tenant)?.size ?? 0;
  }

  /** Runs `serve` (one request of `tenant`'s principal): a stream it opens is that tenant's. */
  serving<T>(tenant: string, serve: () => T): T {
    return this.#serving.run(tenant, serve);
  }

  subscribe(listener: Listener): () => void {
    const tenant = this.#serving.getStore();
    if (tenant === undefined) {
      // Opened outside `serving`, which the endpoint never does: no tenant's, so told nothing.
      this.#onerror(new Error('a subscriptions/listen stream of no tenant gets no change notifications'));
      return () => undefined;
    }
    const streams = this.#streams.get(tenant) ?? new Set<Listener>();
    streams.add(listener);
    this.#streams.set(tenant, streams);
    return () => {
      streams.delete(listener);
      if (streams.size === 0 && this.#streams.get(tenant) === streams) this.#streams.delete(tenant);
    };
  }

  /**
   * The bus interface's broadcast (what the SDK's `notify` sugar calls), refused: it would reach every
   * tenant's streams. Every change Bulkhead sends names its tenants (`publishTo`).
   */
  publish(event: ServerEvent): void {
    this.#onerror(new Error(`a ${event.kind} event for no tenant in particular was not sent`));
  }

  /** The event to the streams of these tenants only. */
  publishTo(tenants: Iterable<string>, event: ServerEvent): void {
    for (const tenant of new Set(tenants)) {
      for (const listener of [...(this.#streams.get(tenant) ?? [])]) {
        try {
          listener(event);
        } catch (error) {
          // One broken stream does not keep the event from the others (as the SDK's own bus).
          this.#onerror(error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
  }
}
