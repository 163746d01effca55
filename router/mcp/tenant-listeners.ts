// The change-event bus of the endpoint's 2026-07-28 `subscriptions/listen` streams, each stream
// registered with the tenant of the verified principal that opened it, so that a change reaches only
// the streams of the tenants it concerns (router/tools/pin-watcher.ts). The SDK's own bus hands every
// event to every stream: one tenant's upgrade or suspension would reach the clients of all the
// others (a timing side channel across the tenant boundary) and make all of them re-list.
//
// The SDK registers a stream's listener from inside the request that opens it (`subscribe` runs
// while `fetch` serves that request) and tells it nothing of the request, so the tenant travels
// with the request's async context: the endpoint serves each request within `serving(tenant)`.
//
// A stream also keeps which tenant of that id it was opened at (its record's `createdAt`): once the
// tenant is offboarded, or offboarded and onboarded again under the id, its streams are forgotten
// (`forget`), so a client of the earlier tenant, still listening, is told nothing of the later one's
// changes.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

type Listener = (event: ServerEvent) => void;

/** Whose requests are being served: the tenant's id and its record's `createdAt` (none: no record). */
interface Serving {
  tenant: string;
  createdAt: string | undefined;
}

export class TenantListeners implements ServerEventBus {
  readonly #serving = new AsyncLocalStorage<Serving>();
  /** Each tenant's open streams, by the tenant of the principal that opened each. */
  readonly #streams = new Map<string, Set<Listener>>();
  /** The `createdAt` of the tenant each stream was opened at. */
  readonly #openedAt = new WeakMap<Listener, string | undefined>();
  readonly #onerror: (error: Error) => void;

  constructor(onerror: (error: Error) => void) {
    this.#onerror = onerror;
  }

  /** How many streams of `tenant` are open. */
  count(tenant: string): number {
    return this.#streams.get(tenant)?.size ?? 0;
  }

  /**
   * Runs `serve` (one request of `tenant`'s principal, its record created at `createdAt`): a stream
   * it opens is that tenant's.
   */
  serving<T>(tenant: string, createdAt: string | undefined, serve: () => T): T {
    return this.#serving.run({ tenant, createdAt }, serve);
  }

  /** The streams opened at the tenant of this id created at `createdAt` are told nothing more. */
  forget(tenant: string, createdAt: string | undefined): void {
    const streams = this.#streams.get(tenant);
    if (!streams) return;
    for (const listener of streams) if (this.#openedAt.get(listener) === createdAt) streams.delete(listener);
    if (streams.size === 0) this.#streams.delete(tenant);
  }

  subscribe(listener: Listener): () => void {
    const serving = this.#serving.getStore();
    if (serving === undefined) {
      // Opened outside `serving`, which the endpoint never does: no tenant's, so told nothing.
      this.#onerror(new Error('a subscriptions/listen stream of no tenant gets no change notifications'));
      return () => undefined;
    }
    const { tenant } = serving;
    this.#openedAt.set(listener, serving.createdAt);
    const streams = this.#streams.get(tenant) ?? new Set<Listener>();
    streams.add(listener);
    this.#streams.set(tenant, streams);
    return () => {
      // Forgotten meanwhile, the set may be gone and a later tenant's made in its place.
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
