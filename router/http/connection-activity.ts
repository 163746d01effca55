// Whether the router is serving one client connection and nobody else right now: the signal that lets
// a request's Redis steps (its rate-limit take, its audit append) go at once instead of waiting for
// the turn's end to share a batch with other requests' (kernel/redis/flush-timing.ts).
//
// Why connections and not requests: the router's count of requests in progress was tried as that
// signal, and under load a request was often the only one parsed while others waited in their
// sockets' buffers; a third of the batches went alone, and the router answered fewer calls per second
// (docs/performance-router.md). Other connections keep sending under load, so a request that another
// connection's request came within QUIET_MS of is taken as one among others. One client calling back
// to back, or requests further apart than that, go at once. A wrong answer costs either a round trip
// not shared or a turn's wait, never correctness. Behind a proxy the signal holds too: the router
// speaks HTTP/1.1, one request at a time per connection, so requests in flight together come on
// connections of their own.

/**
 * How long after another connection's request a request is still taken as one among others. Not
 * shorter: under load the event loop stalls for several milliseconds at a time (a collection, a turn
 * of many requests), and with 5 ms the first requests after a stall went alone, about 3 % of them
 * in test/bench/router-peer.ts's 50 connections, which then answered fewer calls per second
 * (docs/performance-router.md); with 50 ms, 5 in 35,000.
 */
export const QUIET_MS = 50;

export class ConnectionActivity {
  readonly #quietMs: number;
  /** The connection that sent the latest request, and when. */
  #latest: object | undefined;
  #latestAt = Number.NEGATIVE_INFINITY;
  /** The latest request from any connection but #latest. */
  #otherAt = Number.NEGATIVE_INFINITY;

  constructor(options: { quietMs?: number | undefined } = {}) {
    this.#quietMs = options.quietMs ?? QUIET_MS;
  }

  /** A request came on `connection` (the request's socket). */
  arrived(connection: object, at: number = performance.now()): void {
    if (connection !== this.#latest) {
      this.#otherAt = this.#latestAt;
      this.#latest = connection;
    }
    this.#latestAt = at;
  }

  /** Asks, whenever called, whether `connection`'s request is alone (quietBut). */
  signalFor(connection: object): () => boolean {
    return () => this.quietBut(connection);
  }

  /** Whether no connection but `connection` sent a request in the last quietMs. */
  quietBut(connection: object, at: number = performance.now()): boolean {
    const other = connection === this.#latest ? this.#otherAt : this.#latestAt;
    return at - other > this.#quietMs;
  }
}
